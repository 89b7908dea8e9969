/**
 * Server → client frames as JSON text. Each builder returns the finished string once;
 * the transport frames it once and writes the same bytes to every recipient.
 *
 * Pusher double-encodes `data` on its own events: it is a JSON *string* holding JSON.
 * The exceptions (checked against pusher-js) are `pusher:error`, `pusher:subscription_error`
 * and ping/pong, whose `data` is an object.
 */

/**
 * One event frame. Properties in the order `event`, `channel`, `data`, `user_id`.
 * A string `data` is written as a JSON string, anything else as its JSON value;
 * `undefined` data leaves the property out. Built by concatenating one stringify per part,
 * with no intermediate object, because this runs once per published event.
 */
export function encodeEvent(event: string, data: unknown, channel?: string, userId?: string): string {
  let out = `{"event":${JSON.stringify(event)}`;
  if (channel !== undefined) out += `,"channel":${JSON.stringify(channel)}`;
  const json: string | undefined = JSON.stringify(data);
  if (json !== undefined) out += `,"data":${json}`;
  if (userId !== undefined) out += `,"user_id":${JSON.stringify(userId)}`;
  return `${out}}`;
}

/** The first frame on every connection. */
export function connectionEstablished(socketId: string, activityTimeoutSeconds: number): string {
  return encodeEvent('pusher:connection_established', `{"socket_id":${JSON.stringify(socketId)},"activity_timeout":${JSON.stringify(activityTimeoutSeconds)}}`);
}

/** A per-message error; the connection stays open. `code` null is Pusher's "no specific code". */
export function pusherError(code: number | null, message: string): string {
  return encodeEvent('pusher:error', { code, message });
}

const PING_FRAME = '{"event":"pusher:ping","data":{}}';
const PONG_FRAME = '{"event":"pusher:pong","data":{}}';

export function pusherPing(): string {
  return PING_FRAME;
}

export function pusherPong(): string {
  return PONG_FRAME;
}

/** Subscription accepted on a non-presence channel. */
export function subscriptionSucceeded(channel: string, data: object = {}): string {
  return encodeEvent('pusher_internal:subscription_succeeded', JSON.stringify(data), channel);
}

/**
 * Subscription accepted on a presence channel, with the current members (one entry per user).
 * A member without user_info is listed with `null` so its id stays in the hash that
 * pusher-js iterates for `members.each`.
 */
export function presenceSubscriptionSucceeded(channel: string, members: Map<string, unknown> | Iterable<[string, unknown]>): string {
  const ids: string[] = [];
  // A null-prototype object so that a user id like `__proto__` is an ordinary key.
  const hash: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [userId, userInfo] of members) {
    if (!(userId in hash)) ids.push(userId);
    hash[userId] = userInfo === undefined ? null : userInfo;
  }
  const presence = JSON.stringify({ presence: { ids, hash, count: ids.length } });
  return encodeEvent('pusher_internal:subscription_succeeded', presence, channel);
}

/** Subscription refused; pusher-js emits `pusher:subscription_error` on the channel with this data. */
export function subscriptionError(channel: string, type: string, error: string, status: number): string {
  return encodeEvent('pusher:subscription_error', { type, error, status }, channel);
}

/** A user's first connection joined a presence channel. */
export function memberAdded(channel: string, userId: string, userInfo: unknown): string {
  return encodeEvent('pusher_internal:member_added', JSON.stringify({ user_id: userId, user_info: userInfo }), channel);
}

/** A user's last connection left a presence channel. */
export function memberRemoved(channel: string, userId: string): string {
  return encodeEvent('pusher_internal:member_removed', `{"user_id":${JSON.stringify(userId)}}`, channel);
}

/** Cache channel with nothing cached; like hosted Pusher, this event has no data. */
export function cacheMiss(channel: string): string {
  return encodeEvent('pusher:cache_miss', undefined, channel);
}

/** Number of sockets subscribed to a non-presence channel (when the app enables it). */
export function subscriptionCount(channel: string, count: number): string {
  return encodeEvent('pusher_internal:subscription_count', `{"subscription_count":${JSON.stringify(count)}}`, channel);
}

/** Sign-in accepted; `userData` is the exact string the client signed. */
export function signinSuccess(userData: string): string {
  return encodeEvent('pusher:signin_success', `{"user_data":${JSON.stringify(userData)}}`);
}

export interface WatchlistEvent {
  name: 'online' | 'offline';
  user_ids: string[];
}

/** Users on the signed-in user's watchlist came online or went offline. */
export function watchlistEvents(events: readonly WatchlistEvent[]): string {
  return encodeEvent('pusher_internal:watchlist_events', JSON.stringify({ events }));
}
