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
  /** Channels this socket is subscribed to. */
  channels: Set<Channel> | null = null;
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
