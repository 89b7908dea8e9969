import type { Endpoint } from '../transport/types.js';
import type { AppState } from './app-state.js';
import type { Channel } from './channel.js';

/** A signed-in user (pusher:signin). */
export interface SignedInUser {
  readonly id: string;
  readonly userInfo: unknown;
  readonly watchlist: readonly string[];
}

/**
 * A client connection: the Pusher state the core keeps for one socket, and
 * the transport's slots (`open`, `link`, `out`) in the same object (idle
 * memory matters at tens of thousands of sockets). Collections are created
 * lazily. No timers per connection: the node's one sweep serves all.
 */
export class Connection implements Endpoint {
  /** Transport-owned: false once a close has begun. */
  open = true;
  /** Transport-owned: frames queued for this socket this turn. */
  out: unknown = null;
  /**
   * Channels this socket is subscribed to: none, one (most sockets), or a Set
   * from the second on. Read and change it through the functions below.
   */
  channels: Channel | Set<Channel> | null = null;
  /** Presence channels only: the user id this socket joined each one as. */
  presence: Map<Channel, string> | null = null;
  user: SignedInUser | null = null;
  /** Date.now() of the last frame received. */
  lastSeen: number;
  /** Date.now() of our unanswered pusher:ping, 0 when none is outstanding. */
  pingSentAt = 0;
  /** Date.now() of the last subscribe / client event / signin (for the 4202 inactivity limit). */
  lastActionAt: number;
  readonly connectedAt: number;
  /** Client-event rate limit: the current one-second window (whole seconds) and its count. */
  clientEventWindow = 0;
  clientEventCount = 0;

  constructor(
    readonly id: string,
    /** The transport's handle for the socket. */
    readonly link: object,
    now: number,
    readonly app: AppState,
  ) {
    this.lastSeen = now;
    this.connectedAt = now;
    this.lastActionAt = now;
  }

  /** Per app (node default, app override): a prototype getter, no field per connection. */
  get compressible(): boolean {
    return this.app.compression;
  }
}

// A Set and its hash table cost about 150 bytes; most sockets join one channel.

/** Whether the connection is subscribed to the channel. */
export function isSubscribed(conn: Connection, channel: Channel): boolean {
  const channels = conn.channels;
  return channels === channel || (channels instanceof Set && channels.has(channel));
}

export function addChannel(conn: Connection, channel: Channel): void {
  const channels = conn.channels;
  if (channels === null) conn.channels = channel;
  else if (channels instanceof Set) channels.add(channel);
  else if (channels !== channel) conn.channels = new Set([channels, channel]);
}

export function removeChannel(conn: Connection, channel: Channel): void {
  const channels = conn.channels;
  if (channels === channel) conn.channels = null;
  else if (channels instanceof Set) channels.delete(channel);
}

/** The connection's channels, as a copy (safe to leave them while iterating). */
export function channelsOf(conn: Connection): Channel[] {
  const channels = conn.channels;
  return channels === null ? [] : channels instanceof Set ? [...channels] : [channels];
}

export function channelCount(conn: Connection): number {
  const channels = conn.channels;
  return channels === null ? 0 : channels instanceof Set ? channels.size : 1;
}
