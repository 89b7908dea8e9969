import type { WebSocketConstructor } from './host.js';

/** Browser builds: the global WebSocket is the only implementation; there is nothing to load. */
export async function loadNodeWebSocket(): Promise<WebSocketConstructor | null> {
  return null;
}
