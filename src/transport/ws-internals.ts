/**
 * The one place that reaches into `ws` internals. We write ready frames
 * straight to the connection's net.Socket so that one framed Buffer can go to
 * many sockets and several frames for one socket can be merged into one
 * write. This is valid because permessage-deflate is off (ws then writes
 * frames to the socket synchronously, in call order, with no queue of its
 * own). test/unit/transport/ws-internals.test.ts fails loudly if a `ws`
 * upgrade changes the shape this relies on.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

interface WebSocketInternals {
  _socket?: Socket | null;
}

/** The raw TCP/TLS socket under an open `ws` WebSocket. */
export function rawSocketOf(ws: WebSocket): Socket {
  const socket = (ws as unknown as WebSocketInternals)._socket;
  if (!socket || typeof socket.write !== 'function') {
    throw new Error('ws internals changed: WebSocket._socket is not a socket');
  }
  return socket;
}
