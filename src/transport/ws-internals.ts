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

/**
 * `ws` gives every WebSocket its own empty `_extensions` object (56 bytes),
 * shared with its Receiver and Sender, which only read it. A server socket
 * that negotiates no extension keeps this one shared frozen object instead;
 * when permessage-deflate is negotiated, `ws` assigns its own object after
 * construction, as before. Passed to WebSocketServer as its `WebSocket` class.
 */
const NO_EXTENSIONS: Readonly<Record<string, never>> = Object.freeze({});

export class LeanWebSocket extends WebSocket {
  // WebSocketServer constructs it as new WebSocket(null, undefined, options): null marks a server socket.
  constructor(address: null, protocols?: undefined, options?: WebSocket.ClientOptions) {
    super(address as unknown as string, protocols, options);
    (this as unknown as WebSocketInternals)._extensions = NO_EXTENSIONS;
  }
}
