import { WsCloseCode } from '../protocol/codes.js';
import type { SwitchboardError } from '../protocol/errors.js';
import type { Endpoint } from '../transport/types.js';
import type { AppState } from './app-state.js';
import type { Connection } from './connection.js';

/**
 * How the core's rules say things to sockets: JSON strings through the
 * node's transport (held by each app's state). Framing, compression and
 * write coalescing are the transport's business.
 */

/** One JSON message to one connection. */
export function send(conn: Connection, json: string): void {
  conn.app.transport.send(conn, json);
}

/** One JSON message to a set of this app's connections, except one socket id; returns how many it was queued for. */
export function broadcast(app: AppState, json: string, targets: Iterable<Endpoint>, excludeSocketId?: string): number {
  return app.transport.broadcast(json, targets, excludeSocketId);
}

/** Close a connection, after what is queued for it, with a WebSocket close code. */
export function close(conn: Connection, code: number, reason: string): void {
  conn.app.transport.close(conn, code, reason);
}

/** Close a connection for one of the catalogue's reasons, with its close code and message. */
export function closeFor(conn: Connection, error: SwitchboardError): void {
  conn.app.transport.close(conn, error.closeCode ?? WsCloseCode.InternalError, error.message);
}
