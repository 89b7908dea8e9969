import type { WebSocket } from 'ws';
import { Peer, type PeerContext } from '../transport/peer.js';
import type { AppState } from './app-state.js';
import type { Channel } from './channel.js';

/** A signed-in user (pusher:signin). */
export interface SignedInUser {
  readonly id: string;
  readonly userInfo: unknown;
  readonly watchlist: readonly string[];
}

/**
 * A client connection: the transport's Peer plus the Pusher state the core
 * keeps for it. Collections are created lazily: an idle socket costs little.
 */
export class Connection extends Peer {
  /** Channels this socket is subscribed to. */
  channels: Set<Channel> | null = null;
  /** Presence channels only: the user id this socket joined each one as. */
  presence: Map<Channel, string> | null = null;
  user: SignedInUser | null = null;
  /** Date.now() of the last subscribe / client event / signin (for the 4202 inactivity limit). */
  lastActionAt: number;
  readonly connectedAt: number;
  /** Client-event rate limit: the current one-second window (whole seconds) and its count. */
  clientEventWindow = 0;
  clientEventCount = 0;

  constructor(
    id: string,
    ws: WebSocket,
    context: PeerContext,
    now: number,
    readonly app: AppState,
  ) {
    super(id, ws, context, now);
    this.connectedAt = now;
    this.lastActionAt = now;
  }
}
