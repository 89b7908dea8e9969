import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { rawSocketOf } from './ws-internals.js';

/** What peers of one node share: the node's hooks and limits (one pointer per peer). */
export interface PeerContext {
  readonly hooks: TransportHooks;
  readonly maxSendBufferBytes: number;
  /** How long queued frames may wait for more before they are written; 0 = end of the event-loop turn. */
  readonly writeCoalesceMs: number;
  /** Deliveries per second (over the last second) from which batches wait `writeCoalesceMs`. */
  readonly writeCoalesceMinRate: number;
}

/** What the transport asks of the layer above it. */
export interface TransportHooks {
  /** A message arrived from an admitted peer. */
  message(peer: Peer, data: Buffer, isBinary: boolean): void;
  /** The peer's socket closed. */
  closed(peer: Peer, code: number): void;
}

/**
 * One client socket as the transport sees it: the WebSocket, its raw socket,
 * the frames queued for it this turn, and keep-alive bookkeeping. The core's
 * Connection extends it, so a connection is one object (idle memory matters
 * at tens of thousands of sockets). No timers per peer: one sweep serves all.
 */
export class Peer {
  readonly id: string;
  readonly ws: WebSocket;
  readonly socket: Socket;
  readonly context: PeerContext;
  /** Frames queued this event-loop turn: none, one, or several. */
  out: Buffer | Buffer[] | null = null;
  /** False once a close has begun: nothing more is queued. */
  open = true;
  /** Date.now() of the last frame received. */
  lastSeen: number;
  /** Date.now() of our unanswered pusher:ping, 0 when none is outstanding. */
  pingSentAt = 0;

  constructor(id: string, ws: WebSocket, context: PeerContext, now: number) {
    this.id = id;
    this.ws = ws;
    this.context = context;
    this.socket = rawSocketOf(ws);
    this.lastSeen = now;
  }
}
