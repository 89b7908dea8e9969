import { buildConnector, Client, Pool } from 'undici';
import type { HostResolver } from './resolver.js';

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
 * that needed the socket, which decides what they mean. Sockets take the
 * backend's address from `lookup` (the backend's resolver), as tunnels do.
 */
export function createBackendHttp(origin: string, settings: HttpPoolSettings, lookup: HostResolver['lookup'], onConnect: (ms: number) => void): BackendHttp {
  const connector = buildConnector({ timeout: settings.connectTimeoutMs, lookup });
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

/** Most of a node's answer to a health check or rebalance ask the balancer keeps: a few hundred bytes normally. */
const MAX_CONTROL_ANSWER_BYTES = 64 * 1024;

/** An answer's body as text, but never more than MAX_CONTROL_ANSWER_BYTES of it (a node's answer is input from the network). */
export async function readCappedText(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    size += c.length;
    if (size > MAX_CONTROL_ANSWER_BYTES) {
      body.destroy();
      break;
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}
