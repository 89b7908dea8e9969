import type { WebSocketConstructor } from './host.js';

/**
 * Node 20 has no global WebSocket (Node 22 does): load the `ws` package on first use, so that
 * browsers and bundles never pull it in. The browser builds replace this module with one that
 * returns null (see build.mjs).
 */
export async function loadNodeWebSocket(): Promise<WebSocketConstructor | null> {
  try {
    const module = (await import('ws')) as unknown as { default?: WebSocketConstructor; WebSocket?: WebSocketConstructor };
    return module.default ?? module.WebSocket ?? null;
  } catch {
    return null;
  }
}
