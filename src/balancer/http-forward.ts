import { request, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../util/logger.js';
import type { Backend } from './backend.js';
import type { BackendSet } from './backend-set.js';
import type { BalancerConfig } from './config.js';
import { forwardedFor } from './forwarding.js';
import { balancerMetrics } from '../metrics/balancer.js';

/** Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'content-length']);

/** Errors that mean the request never reached the backend, so trying another cannot duplicate it. */
const NOT_DELIVERED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ETIMEDOUT', 'CONNECT_TIMEOUT']);

/**
 * HTTP API requests through keep-alive pools (node:http's Agent, one per
 * backend). The body is read whole first (it is small: the node caps it at
 * `maxHttpBodyBytes`), so a backend that fails to connect is replaced by
 * another before the client sees an error.
 */
export class HttpForwarder {
  constructor(
    private readonly config: BalancerConfig,
    private readonly set: BackendSet,
    private readonly logger: Logger,
    private readonly hashKey: (req: IncomingMessage) => string | undefined,
  ) {}

  handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (c: Buffer) => {
      if (refused) return;
      size += c.length;
      if (size > this.config.maxBodyBytes) {
        refused = true;
        balancerMetrics.proxyErrors.inc({ kind: 'bad-request' });
        reply(res, 413, 'request body too large', true);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!refused) void this.attempt(req, res, Buffer.concat(chunks), new Set(), this.hashKey(req));
    });
    req.on('error', () => res.destroy());
  }

  private async attempt(req: IncomingMessage, res: ServerResponse, body: Buffer, tried: Set<Backend>, key: string | undefined): Promise<void> {
    const choice = await this.set.chooseOrWait(key, tried, false);
    if (res.destroyed || res.headersSent) return;
    if (choice === 'full' || choice === 'none') {
      balancerMetrics.proxyErrors.inc({ kind: choice === 'full' ? 'limit' : 'no-backend' });
      reply(res, tried.size > 0 && choice === 'none' ? 502 : 503, choice === 'full' ? 'over capacity, retry later' : 'no backend available');
      return;
    }
    const backend = choice;
    tried.add(backend);
    this.set.acquire(backend, 'http');
    let released = false;
    const release = (): void => {
      if (!released) this.set.release(backend, 'http');
      released = true;
    };
    const { forwardedForValue, headers: pairs } = forwardedFor(req, req.socket as Socket);
    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of pairs) {
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower)) continue;
      const prev = headers[lower];
      headers[lower] = prev === undefined ? value : `${String(prev)}, ${value}`;
    }
    headers['x-forwarded-for'] = forwardedForValue;
    headers['x-forwarded-proto'] = 'http';
    headers['content-length'] = String(body.length);
    const upstream = request({
      host: backend.host,
      port: backend.port,
      method: req.method,
      path: req.url,
      headers,
      agent: backend.agent,
      timeout: this.config.requestTimeout * 1000,
    });
    // The connect timeout starts when the pool hands out a new socket: a request queued behind
    // a full pool is waiting for us, not failing to reach the node.
    let connectTimer: NodeJS.Timeout | undefined;
    upstream.on('socket', (socket: Socket) => {
      if (!socket.connecting) return;
      const connectStarted = performance.now();
      connectTimer = setTimeout(
        () => upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'CONNECT_TIMEOUT' })),
        this.config.connectTimeout * 1000,
      );
      socket.once('connect', () => {
        clearTimeout(connectTimer);
        backend.observeLatency(performance.now() - connectStarted);
        backend.health.connectSucceeded();
      });
    });
    upstream.on('timeout', () => upstream.destroy(Object.assign(new Error('backend timeout'), { code: 'BACKEND_TIMEOUT' })));
    upstream.on('response', (answer) => {
      clearTimeout(connectTimer);
      const out: OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(answer.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
      res.writeHead(answer.statusCode ?? 502, out);
      answer.on('data', (c: Buffer) => balancerMetrics.bytes.inc({ direction: 'downstream' }, c.length));
      answer.pipe(res);
      answer.on('end', release);
      answer.on('error', () => {
        release();
        res.destroy();
      });
      res.on('close', () => {
        release();
        if (!answer.complete) answer.destroy();
      });
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(connectTimer);
      release();
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const code = err.code ?? '';
      // A reused keep-alive socket the backend had just closed: the request did not get there either.
      const notDelivered = NOT_DELIVERED.has(code) || (upstream.reusedSocket && code === 'ECONNRESET');
      if (NOT_DELIVERED.has(code)) {
        balancerMetrics.proxyErrors.inc({ kind: code === 'CONNECT_TIMEOUT' ? 'timeout' : 'connect' });
        if (backend.health.connectFailed(performance.now(), this.set.mayEject())) balancerMetrics.ejections.inc({ backend: backend.address });
      } else balancerMetrics.proxyErrors.inc({ kind: code === 'BACKEND_TIMEOUT' ? 'timeout' : 'reset' });
      this.logger.debug({ backend: backend.address, code }, 'HTTP request to backend failed');
      if (notDelivered && tried.size <= this.config.connectRetries) void this.attempt(req, res, body, tried, key);
      else reply(res, code === 'BACKEND_TIMEOUT' ? 504 : 502, 'backend failed');
    });
    balancerMetrics.bytes.inc({ direction: 'upstream' }, body.length);
    upstream.end(body);
  }
}

/** A JSON error answer, the nodes' shape (`{"error": message}`). */
function reply(res: ServerResponse, status: number, message: string, close = false): void {
  if (res.headersSent || res.destroyed) return;
  const body = JSON.stringify({ error: message });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(close ? { connection: 'close' } : {}) });
  res.end(body);
}
