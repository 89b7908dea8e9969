import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Logger } from '../util/logger.js';
import type { Backend } from './backend.js';
import type { BackendSet } from './backend-set.js';
import type { BalancerConfig } from './config.js';
import { forwardedFor, forwardedProto } from './forwarding.js';
import { balancerMetrics } from '../metrics/balancer.js';

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, never
 * forwarded. Content-Length is ours to set (the body is read whole), and
 * Expect was answered here: node:http sent the client its 100 Continue.
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'content-length', 'expect']);
/** The answer's hop-by-hop headers; its Content-Length stays (the body is relayed byte for byte, and a HEAD answer has no other). */
const HOP_BY_HOP_ANSWER = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'trailer', 'upgrade']);

/** Errors that mean the request never reached the backend, so trying another cannot duplicate it. */
const NOT_DELIVERED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT']);
/** undici's codes for a backend too slow to connect or to answer. */
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT']);
/** Methods without side effects (RFC 9110 §9.2.1): repeating one on another backend after a reset is harmless. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const UPSTREAM_BYTES = { direction: 'upstream' } as const;
const DOWNSTREAM_BYTES = { direction: 'downstream' } as const;

/**
 * HTTP API requests through keep-alive pools (undici, one per backend: see
 * http-pool.ts). The body is read whole first (it is small: the node caps it
 * at `maxHttpBodyBytes`), so a backend that fails to connect is replaced by
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
    // A client that goes while the backend thinks aborts the request (undici frees the socket).
    const abort = new AbortController();
    const clientGone = (): void => abort.abort();
    res.once('close', clientGone);
    balancerMetrics.bytes.inc(UPSTREAM_BYTES, body.length);
    let answer: Dispatcher.ResponseData;
    try {
      answer = await backend.http.api.request({
        method: req.method as Dispatcher.HttpMethod,
        path: req.url ?? '/',
        headers: forwardedHeaders(req, body.length),
        body,
        signal: abort.signal,
      });
    } catch (err) {
      res.off('close', clientGone);
      release();
      if (!abort.signal.aborted) this.failed(req, res, body, tried, key, backend, err);
      return;
    }
    res.off('close', clientGone);
    const out: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(answer.headers)) if (!HOP_BY_HOP_ANSWER.has(name) && value !== undefined) out[name] = value;
    res.writeHead(answer.statusCode, out);
    answer.body.on('data', (c: Buffer) => balancerMetrics.bytes.inc(DOWNSTREAM_BYTES, c.length));
    // Either side failing destroys the other: a client gone mid-body frees the backend's socket.
    pipeline(answer.body, res, release);
  }

  /** The request got no answer from `backend`: another backend when it cannot have reached this one (or is safe to repeat), else an error answer. */
  private failed(req: IncomingMessage, res: ServerResponse, body: Buffer, tried: Set<Backend>, key: string | undefined, backend: Backend, err: unknown): void {
    const code = (err as { code?: string }).code ?? '';
    this.logger.debug({ backend: backend.address, code }, 'HTTP request to backend failed');
    if (code === 'UND_ERR_INVALID_ARG') {
      // undici refused to send what node:http accepted from the client (a header value, say): the client's fault.
      balancerMetrics.proxyErrors.inc({ kind: 'bad-request' });
      reply(res, 400, 'request cannot be forwarded');
      return;
    }
    const notDelivered = NOT_DELIVERED.has(code);
    const kind = TIMEOUTS.has(code) ? 'timeout' : notDelivered ? 'connect' : 'reset';
    this.set.proxyFailed(backend, kind, this.logger);
    // A reset after the request went out may have reached the node: only a request that is safe to repeat goes again.
    const retry = notDelivered || (code === 'UND_ERR_SOCKET' && SAFE_METHODS.has(req.method ?? ''));
    if (retry && tried.size <= this.config.connectRetries) void this.attempt(req, res, body, tried, key);
    else reply(res, code === 'UND_ERR_HEADERS_TIMEOUT' ? 504 : 502, 'backend failed');
  }
}

/** The client's headers for the backend: hop-by-hop ones dropped, X-Forwarded-For/-Proto ours (see forwardedFor), names, order and repeats kept. */
function forwardedHeaders(req: IncomingMessage, bodyLength: number): string[] {
  const client = req.socket as Socket;
  const { forwardedForValue, headers: pairs } = forwardedFor(req, client);
  const flat: string[] = [];
  for (const [name, value] of pairs) if (!HOP_BY_HOP.has(name.toLowerCase())) flat.push(name, value);
  flat.push('x-forwarded-for', forwardedForValue, 'x-forwarded-proto', forwardedProto(client), 'content-length', String(bodyLength));
  return flat;
}

/** A JSON error answer, the nodes' shape (`{"error": message}`). */
export function reply(res: ServerResponse, status: number, message: string, close = false): void {
  if (res.headersSent || res.destroyed) return;
  const body = JSON.stringify({ error: message });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(close ? { connection: 'close' } : {}) });
  res.end(body);
}
