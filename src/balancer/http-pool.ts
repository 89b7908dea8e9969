import { buildConnector, Client, Pool } from 'undici';

export interface HttpPoolSettings {
  /** Keep-alive sockets for forwarded HTTP API requests. */
  connections: number;
  connectTimeoutMs: number;
  /** How long the backend may take to answer (headers) and between body chunks. */
  requestTimeoutMs: number;
}

/**
 * Idle sockets close after 4 s, before the node's 5 s keep-alive timeout
 * could close one under a request (undici also follows the node's
 * `Keep-Alive: timeout` hint, less a 2 s margin, and checks an idle socket
 * is still open before reusing it).
 */
const KEEP_ALIVE_MS = 4000;

/** The HTTP connections the balancer keeps to one backend (undici). */
export interface BackendHttp {
  /** Forwarded HTTP API requests. */
  readonly api: Pool;
  /** The balancer's own requests (health checks, rebalance asks): one socket of their own, so a pool full of slow API requests cannot starve them and fail a healthy backend. */
  readonly control: Client;
}

/**
 * A successful connect of either reports its time through `onConnect` (the
 * backend's latency EWMA and passive health); failures reach the request
 * that needed the socket, which decides what they mean.
 */
export function createBackendHttp(host: string, port: number, settings: HttpPoolSettings, onConnect: (ms: number) => void): BackendHttp {
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const connector = buildConnector({ timeout: settings.connectTimeoutMs });
  const connect: buildConnector.connector = (options, callback) => {
    const started = performance.now();
    connector(options, (...args) => {
      if (args[0] === null) onConnect(performance.now() - started);
      callback(...args);
    });
  };
  const common = { connect, keepAliveTimeout: KEEP_ALIVE_MS, headersTimeout: settings.requestTimeoutMs, bodyTimeout: settings.requestTimeoutMs };
  return { api: new Pool(origin, { ...common, connections: settings.connections }), control: new Client(origin, common) };
}
