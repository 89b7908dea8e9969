type ChannelType = 'public' | 'private' | 'presence' | 'encrypted' | 'user';

export interface ChannelKind {
  type: ChannelType;
  /** Cache channel: the server keeps the last event and replays it to new subscribers. */
  cache: boolean;
}

/** Longest ordinary channel name (hosted Pusher's limit). */
export const MAX_CHANNEL_NAME_LENGTH = 200;
/** Longest user id accepted in sign-in data, presence data and user channel names. */
const MAX_USER_ID_LENGTH = 200;

export const USER_CHANNEL_PREFIX = '#server-to-user-';
/** A user channel carries a whole user id after its prefix, so it gets its own limit. */
export const MAX_USER_CHANNEL_NAME_LENGTH = USER_CHANNEL_PREFIX.length + MAX_USER_ID_LENGTH;

const CHANNEL_NAME_PATTERN = /^[A-Za-z0-9_\-=@,.;]+$/;
// User ids come from the app's own user store: allow anything printable, refuse control
// characters so an id can never break a log line or a header.
const USER_ID_PATTERN = /^[^\u0000-\u001f\u007f]+$/;

// Longest prefixes first: `private-encrypted-cache-x` must not be read as `private-`.
const PREFIXES: ReadonlyArray<readonly [string, ChannelKind]> = [
  ['private-encrypted-cache-', { type: 'encrypted', cache: true }],
  ['private-encrypted-', { type: 'encrypted', cache: false }],
  ['private-cache-', { type: 'private', cache: true }],
  ['presence-cache-', { type: 'presence', cache: true }],
  ['cache-', { type: 'public', cache: true }],
  ['private-', { type: 'private', cache: false }],
  ['presence-', { type: 'presence', cache: false }],
];
const PUBLIC: ChannelKind = { type: 'public', cache: false };
const USER: ChannelKind = { type: 'user', cache: false };

/**
 * Type of a channel from its name, or null when the name is not a valid channel.
 * A typed prefix with nothing after it (`private-`, `private-encrypted-`) is invalid,
 * so a bare `private-encrypted-` can never fall through to a plain private channel.
 */
export function classifyChannel(name: string): ChannelKind | null {
  if (typeof name !== 'string' || name.length === 0) return null;
  if (name.startsWith(USER_CHANNEL_PREFIX)) {
    return userIdFromUserChannel(name) === null ? null : USER;
  }
  if (name.length > MAX_CHANNEL_NAME_LENGTH || !CHANNEL_NAME_PATTERN.test(name)) return null;
  for (const [prefix, kind] of PREFIXES) {
    if (name.startsWith(prefix)) return name.length > prefix.length ? kind : null;
  }
  return PUBLIC;
}

/** True when `id` may be used as a user id (sign-in, presence, user channels). */
export function isValidUserId(id: string): boolean {
  return id.length > 0 && id.length <= MAX_USER_ID_LENGTH && USER_ID_PATTERN.test(id);
}

/** The user id of a `#server-to-user-{id}` channel, or null for any other or invalid name. */
export function userIdFromUserChannel(name: string): string | null {
  if (!name.startsWith(USER_CHANNEL_PREFIX)) return null;
  const id = name.slice(USER_CHANNEL_PREFIX.length);
  return isValidUserId(id) ? id : null;
}

/** The channel that carries events sent to one signed-in user. */
export function userChannelName(userId: string): string {
  return USER_CHANNEL_PREFIX + userId;
}
