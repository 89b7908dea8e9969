import type { Connection } from './connection.js';
import { host } from './host.js';

/**
 * Browsers only: the network coming back or the page returning to the foreground brings a pending
 * retry forward (or checks the open socket with a ping, since timers in background tabs are
 * throttled and a laptop that slept may hold a dead socket); going offline stops burning retries.
 * Returns the function that removes the listeners. A no-op outside browsers.
 */
export function watchEnvironment(connection: Connection): () => void {
  const target = host;
  const document = host.document;
  if (typeof target.addEventListener !== 'function' || typeof target.removeEventListener !== 'function' || document === undefined) return () => undefined;
  const online = (): void => connection.checkNow();
  const offline = (): void => connection.offline();
  const visibility = (): void => {
    if (document.visibilityState === 'visible') connection.checkNow();
  };
  target.addEventListener('online', online);
  target.addEventListener('offline', offline);
  document.addEventListener('visibilitychange', visibility);
  return () => {
    target.removeEventListener!('online', online);
    target.removeEventListener!('offline', offline);
    document.removeEventListener('visibilitychange', visibility);
  };
}
