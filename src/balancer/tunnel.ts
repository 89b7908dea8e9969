import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../util/logger.js';
import type { Backend } from './backend.js';
import type { BackendSet } from './backend-set.js';
import type { BalancerConfig } from './config.js';
import { forwardedFor, proxyProtocolLine } from './forwarding.js';
import { balancerMetrics } from '../metrics/balancer.js';

/** Pusher's "over capacity, reconnect after backoff" close code. */
const CLOSE_OVER_CAPACITY = 4100;
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Headers a backend's refusal may take, at most, before we stop waiting for its status line. */
const MAX_STATUS_WAIT_BYTES = 16 * 1024;

/**
 * A WebSocket through the balancer: node:http parsed the upgrade request;
 * from here the two sockets are piped raw (no frame parsing) and destroyed
 * together. A backend that fails before it answers the upgrade (refused,
 * reset, timeout, or a 5xx such as a draining node's 503) is replaced by
 * another before the client sees anything.
 */
export class TunnelHandler {
  constructor(
    private readonly config: BalancerConfig,
    private readonly set: BackendSet,
    private readonly logger: Logger,
    private readonly hashKey: (req: IncomingMessage) => string | undefined,
  ) {}

  handle(req: IncomingMessage, client: Duplex, head: Buffer): void {
    client.on('error', ignore);
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket' || typeof req.headers['sec-websocket-key'] !== 'string') {
      balancerMetrics.proxyErrors.inc({ kind: 'bad-request' });
      refuse(client, 400, 'Bad Request');
      return;
    }
    void this.attempt(req, client as Socket, head, new Set(), this.hashKey(req));
  }

  private async attempt(req: IncomingMessage, client: Socket, head: Buffer, tried: Set<Backend>, key: string | undefined): Promise<void> {
    const choice = await this.set.chooseOrWait(key, tried, true);
    if (client.destroyed) return;
    if (choice === 'full') {
      balancerMetrics.proxyErrors.inc({ kind: 'limit' });
      closeOverCapacity(req, client);
      return;
    }
    if (choice === 'none') {
      balancerMetrics.proxyErrors.inc({ kind: 'no-backend' });
      refuse(client, tried.size > 0 ? 502 : 503, tried.size > 0 ? 'Bad Gateway' : 'Service Unavailable');
      return;
    }
    const backend = choice;
    tried.add(backend);
    this.set.acquire(backend, 'websocket');
    const started = performance.now();
    const upstream = connect({ host: backend.host, port: backend.port, noDelay: true });
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.set.release(backend, 'websocket');
    };
    let answered = false;
    let received: Buffer[] = [];
    let receivedBytes = 0;

    let failed = false;
    const retryOrFail = (kind: 'connect' | 'reset' | 'timeout' | 'refused', status?: string): void => {
      if (failed) return;
      failed = true;
      upstream.removeAllListeners('data');
      upstream.destroy();
      release();
      client.off('close', onClientGone);
      if (kind !== 'refused') {
        balancerMetrics.proxyErrors.inc({ kind });
        if (backend.health.connectFailed(performance.now(), this.set.mayEject())) {
          balancerMetrics.ejections.inc({ backend: backend.address });
          this.logger.warn({ backend: backend.address, ejections: backend.health.consecutiveEjections }, 'backend ejected after connect failures');
        }
      }
      this.logger.debug({ backend: backend.address, kind, status }, 'backend failed before the upgrade; trying another');
      if (tried.size <= this.config.connectRetries) void this.attempt(req, client, head, tried, key);
      else refuse(client, 502, 'Bad Gateway');
    };

    const onClientGone = (): void => {
      failed = true;
      upstream.destroy();
      release();
    };
    client.once('close', onClientGone);

    upstream.setTimeout(this.config.connectTimeout * 1000, () => {
      if (!answered) retryOrFail('timeout');
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (!answered) retryOrFail(upstream.connecting || err.code === 'ECONNREFUSED' ? 'connect' : 'reset');
    });
    upstream.on('close', () => {
      if (!answered && !released) retryOrFail('reset');
    });
    upstream.once('connect', () => {
      backend.observeLatency(performance.now() - started);
      backend.health.connectSucceeded();
      const lines: string[] = [];
      if (this.config.proxyProtocol) lines.push(proxyProtocolLine(client));
      upstream.write(lines.join('') + requestHead(req, client));
      if (head.length > 0) upstream.write(head);
    });
    // Until the backend's status line is in, read it ourselves: a 5xx means try another.
    upstream.on('data', (chunk: Buffer) => {
      received.push(chunk);
      receivedBytes += chunk.length;
      const text = Buffer.concat(received).subarray(0, 16).toString('latin1');
      if (text.length < 12 && receivedBytes < MAX_STATUS_WAIT_BYTES) return;
      const status = text.slice(9, 12);
      if (status.startsWith('5') && tried.size <= this.config.connectRetries) {
        retryOrFail('refused', status);
        return;
      }
      answered = true;
      upstream.removeAllListeners('data');
      upstream.setTimeout(0);
      client.off('close', onClientGone);
      const first = Buffer.concat(received);
      received = [];
      if (status !== '101') {
        // The backend refused the upgrade (a 4xx, or a 5xx with no one else to try): pass its answer on.
        client.end(first);
        upstream.destroy();
        release();
        return;
      }
      this.pipe(client, upstream, first, release);
    });
  }

  private pipe(client: Socket, upstream: Socket, first: Buffer, release: () => void): void {
    client.write(first);
    let done = false;
    const end = (): void => {
      if (done) return;
      done = true;
      balancerMetrics.bytes.inc({ direction: 'upstream' }, upstream.bytesWritten);
      balancerMetrics.bytes.inc({ direction: 'downstream' }, client.bytesWritten);
      client.destroy();
      upstream.destroy();
      release();
    };
    // Any end of either side ends both: no half-open tunnels left holding fds.
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', end);
      s.on('end', end);
      if (this.config.tunnelTimeout > 0) s.setTimeout(this.config.tunnelTimeout * 1000, end);
    }
    upstream.pipe(client);
    client.pipe(upstream);
  }
}

/** The upgrade request as the backend gets it: the client's headers, plus X-Forwarded-*. */
function requestHead(req: IncomingMessage, client: Socket): string {
  const { forwardedForValue, headers } = forwardedFor(req, client);
  let text = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
  for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
  text += `X-Forwarded-For: ${forwardedForValue}\r\nX-Forwarded-Proto: http\r\n\r\n`;
  return text;
}

/** Answer an upgrade with an HTTP error and close. */
function refuse(socket: Duplex, status: number, text: string): void {
  if (socket.destroyed) return;
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  setTimeout(() => socket.destroy(), 1000).unref();
}

/**
 * Over the limits: complete the handshake ourselves and send close 4100, so
 * pusher-js backs off before reconnecting instead of retrying at once, as it
 * would after a failed handshake.
 */
function closeOverCapacity(req: IncomingMessage, socket: Duplex): void {
  const key = String(req.headers['sec-websocket-key']);
  const accept = createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');
  const reason = Buffer.from('Over capacity');
  const frame = Buffer.alloc(4 + reason.length);
  frame[0] = 0x88; // FIN + close
  frame[1] = 2 + reason.length;
  frame.writeUInt16BE(CLOSE_OVER_CAPACITY, 2);
  reason.copy(frame, 4);
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  socket.end(frame);
  setTimeout(() => socket.destroy(), 1000).unref();
}

function ignore(): void {}
