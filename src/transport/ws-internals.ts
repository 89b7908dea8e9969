/**
 * The one place that reaches into `ws` internals. We write ready frames
 * straight to the connection's net.Socket so that one framed (or compressed)
 * Buffer can go to many sockets and several frames for one socket can be
 * merged into one write. This is valid because we never send data through
 * `ws` itself: its Sender then only writes control frames (pong, close),
 * synchronously and in call order, so nothing of ours can overtake or split
 * them. `ws` still negotiates permessage-deflate and inflates what clients
 * send. test/unit/transport/ws-internals.test.ts fails loudly if a `ws`
 * upgrade changes the shape this relies on.
 */
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';

interface WebSocketInternals {
  _socket?: Socket | null;
  _extensions?: Record<string, { params?: Record<string, unknown> } | undefined>;
}

/** The raw TCP/TLS socket under an open `ws` WebSocket (checked: use once per socket). */
export function rawSocketOf(ws: WebSocket): Socket {
  const socket = (ws as unknown as WebSocketInternals)._socket;
  if (!socket || typeof socket.write !== 'function') {
    throw new Error('ws internals changed: WebSocket._socket is not a socket');
  }
  return socket;
}

/** The same socket, unchecked, for the write path (rawSocketOf checked it at admission). */
export function socketOf(ws: WebSocket): Socket {
  return (ws as unknown as { _socket: Socket })._socket;
}

/**
 * The server window bits a socket negotiated for permessage-deflate with
 * server_no_context_takeover, or null when it did not negotiate it (or
 * negotiated context takeover, which a shared frame cannot honour).
 */
export function negotiatedServerWindowBits(ws: WebSocket): number | null {
  const params = (ws as unknown as WebSocketInternals)._extensions?.['permessage-deflate']?.params;
  if (params === undefined || params.server_no_context_takeover !== true) return null;
  const bits = params.server_max_window_bits;
  return typeof bits === 'number' ? bits : 15;
}

/** Where a node's server WebSockets deliver the events the transport handles; `this` is the socket. */
export interface SocketEvents {
  message(this: WebSocket, data: Buffer, isBinary: boolean): void;
  close(this: WebSocket, code: number): void;
  error(this: WebSocket, error: Error & { code?: string }): void;
  ping(this: WebSocket, data: Buffer): void;
}

/** Shared by every server socket that negotiated no extension (see leanWebSocketClass). */
const NO_EXTENSIONS: Readonly<Record<string, never>> = Object.freeze({});

/**
 * The WebSocket class of one node's server (WebSocketServer's `WebSocket`
 * option), holding per socket two things less than `ws` does:
 * - listeners: `ws` raises events through `emit`; the four the transport
 *   handles go straight to the node's handlers, held once by this class,
 *   instead of through listeners, whose entries grow each socket's
 *   `_events` dictionary (four of them: about 200 bytes). Listeners added
 *   anyway still hear them.
 * - `_extensions`: `ws` gives every WebSocket its own empty object (56
 *   bytes), shared with its Receiver and Sender, which only read it. A socket
 *   that negotiates no extension keeps one shared frozen object instead;
 *   with permessage-deflate `ws` assigns its own after construction.
 */
export function leanWebSocketClass(events: SocketEvents): typeof WebSocket {
  class LeanWebSocket extends WebSocket {
    // WebSocketServer constructs it as new WebSocket(null, undefined, options): null marks a server socket.
    constructor(address: null, protocols?: undefined, options?: WebSocket.ClientOptions) {
      super(address as unknown as string, protocols, options);
      (this as unknown as WebSocketInternals)._extensions = NO_EXTENSIONS;
    }

    // ws emits at most two arguments with any event.
    override emit(event: string | symbol, a?: unknown, b?: unknown): boolean {
      switch (event) {
        case 'message':
          events.message.call(this, a as Buffer, b as boolean);
          break;
        case 'close':
          events.close.call(this, a as number);
          break;
        case 'error':
          events.error.call(this, a as Error);
          break;
        case 'ping':
          events.ping.call(this, a as Buffer);
          break;
        default:
          return super.emit(event, a, b);
      }
      if (this.listenerCount(event) > 0) super.emit(event, a, b);
      return true;
    }
  }
  return LeanWebSocket as unknown as typeof WebSocket;
}
