import { host, type WebSocketConstructor } from './host.js';
import { loadNodeWebSocket } from './node-websocket.js';

let loaded: Promise<WebSocketConstructor | null> | null = null;

/** The WebSocket to use: the one passed in the options, else the global one, else `ws` in Node. */
export async function resolveWebSocket(given: WebSocketConstructor | undefined): Promise<WebSocketConstructor | null> {
  if (given !== undefined) return given;
  if (typeof host.WebSocket === 'function') return host.WebSocket;
  loaded ??= loadNodeWebSocket();
  return loaded;
}
