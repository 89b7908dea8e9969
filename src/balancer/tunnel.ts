import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../util/logger.js';
import type { Backend } from './backend.js';
import type { BackendSet, NoBackend } from './backend-set.js';
import type { BalancerConfig } from './config.js';
import { proxyProtocolLine, upgradeRequestHead } from './forwarding.js';
import { balancerMetrics } from '../metrics/balancer.js';
import { spreadOver } from '../util/spread.js';

/** Pusher's "over capacity, reconnect after backoff" close code. */
const CLOSE_OVER_CAPACITY = 4100;
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Headers a backend's refusal may take, at most, before we stop waiting for its status line. */
const MAX_STATUS_WAIT_BYTES = 16 * 1024;

/** Where a tunnel is: picking a backend, waiting for its status line, piping, or gone. */
const CHOOSING = 0;
const CONNECTING = 1;
const OPEN = 2;
const DONE = 3;

const NO_BACKENDS: ReadonlySet<Backend> = new Set();
/**
 * Every backend socket reads into this one buffer (node:net's `onread`), and
 * each read is copied out at its exact size before anything keeps it: that
 * skips the per-read 64 KiB allocation and the stream machinery on the path
 * every delivered message takes (a quarter of the proxy's user CPU per
 * forwarded frame). One buffer serves all sockets because reads run one at a
 * time on this thread and nothing refers to it once a read returns.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
const UPSTREAM_BYTES = { direction: 'upstream' } as const;
const DOWNSTREAM_BYTES = { direction: 'downstream' } as const;

/**
 * Both sockets of a tunnel point at it, so that every socket shares the
 * module-level listeners below (which find their tunnel through `this`)
 * instead of getting a set of closures per connect.
 */
const kTunnel = Symbol('tunnel');
type TunnelSocket = Socket & { [kTunnel]?: Tunnel | undefined };

/** One WebSocket through the balancer, from the client's upgrade request until both sockets are gone. */
class Tunnel {
  phase = CHOOSING;
  upstream: TunnelSocket | null = null;
  backend: Backend | null = null;
  /** Backends tried so far (null until the first pick). */
  tried: Set<Backend> | null = null;
  /** Whether this attempt's backend was released (a retry takes a new one). */
  released = true;
  connectStarted = 0;
  /** The backend's answer until its status line is complete. */
  received: Buffer | null = null;
  /** Data moved since the last idle sweep; `idleSince` is when it last stopped. */
  active = true;
  idleSince = 0;
  /** Only needed until the tunnel opens. */
  req: IncomingMessage | null;
  head: Buffer | null;

  constructor(
    readonly handler: TunnelHandler,
    req: IncomingMessage,
    readonly client: TunnelSocket,
    head: Buffer,
    readonly key: string | undefined,
  ) {
    this.req = req;
    this.head = head;
  }
}

/**
 * A WebSocket through the balancer: node:http parsed the upgrade request;
 * from here the two sockets are forwarded raw (no frame parsing) and destroyed
 * together. A backend that fails before it answers the upgrade (refused,
 * reset, timeout, or a 5xx such as a draining node's 503) is replaced by
 * another before the client sees anything.
 *
 * The connect path runs once per client and is most of what a proxy costs
 * here, so it avoids per-connect closures and promises (a tunnel object and
 * shared listeners; the backend pick is synchronous unless the limits make
 * it wait), writes the request head in one write, and checks idle tunnels
 * with one sweep timer instead of a timer per socket.
 */
export class TunnelHandler {
  private readonly open = new Set<Tunnel>();
  private sweeper: NodeJS.Timeout | null = null;

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
    const socket = client as TunnelSocket;
    const tunnel = new Tunnel(this, req, socket, head, this.hashKey(req));
    socket[kTunnel] = tunnel;
    socket.on('close', onClientClose);
    this.attempt(tunnel);
  }

  /** Open tunnels (piping, not those still choosing or connecting). */
  get size(): number {
    return this.open.size;
  }

  /** Close the open tunnels evenly over `seconds` (a graceful stop; their clients reconnect elsewhere). */
  drain(seconds: number): Promise<void> {
    return spreadOver([...this.open], seconds, (t) => this.finish(t));
  }

  /** Stop the idle sweep (the balancer destroys the sockets themselves). */
  close(): void {
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  /** Pick a backend and connect to it: at once, unless the limits are reached and requests may wait for room. */
  private attempt(t: Tunnel): void {
    const exclude = t.tried ?? NO_BACKENDS;
    const choice = this.set.choose(t.key, exclude, true);
    if (choice === 'full' && this.config.queueTimeout > 0) {
      void this.set.chooseOrWait(t.key, exclude, true).then((c) => this.connect(t, c));
      return;
    }
    this.connect(t, choice);
  }

  private connect(t: Tunnel, choice: Backend | NoBackend): void {
    const client = t.client;
    if (client.destroyed || t.phase === DONE) return;
    if (choice === 'full') {
      t.phase = DONE;
      balancerMetrics.proxyErrors.inc({ kind: 'limit' });
      closeOverCapacity(t.req as IncomingMessage, client);
      return;
    }
    if (choice === 'none') {
      t.phase = DONE;
      balancerMetrics.proxyErrors.inc({ kind: 'no-backend' });
      if (t.tried !== null) refuse(client, 502, 'Bad Gateway');
      else refuse(client, 503, 'Service Unavailable');
      return;
    }
    const backend = choice;
    (t.tried ??= new Set()).add(backend);
    this.set.acquire(backend, 'websocket');
    t.backend = backend;
    t.released = false;
    t.received = null;
    t.phase = CONNECTING;
    t.connectStarted = performance.now();
    const upstream: TunnelSocket = connect({
      host: backend.host,
      port: backend.port,
      noDelay: true,
      lookup: backend.resolver.lookup,
      onread: { buffer: READ_BUFFER, callback: (length) => onUpstreamRead(upstream, length) },
    });
    upstream[kTunnel] = t;
    t.upstream = upstream;
    upstream.setTimeout(this.config.connectTimeout * 1000);
    upstream.on('timeout', onUpstreamTimeout);
    upstream.on('error', onUpstreamError);
    upstream.on('close', onUpstreamClose);
    upstream.on('connect', onUpstreamConnect);
  }

  connected(t: Tunnel): void {
    const backend = t.backend as Backend;
    const upstream = t.upstream as TunnelSocket;
    backend.observeLatency(performance.now() - t.connectStarted);
    backend.health.connectSucceeded();
    let text = upgradeRequestHead(t.req as IncomingMessage, t.client);
    if (this.config.proxyProtocol) text = proxyProtocolLine(t.client) + text;
    // latin1: node:http decoded the head's bytes as latin1, so this sends them back unchanged.
    const head = t.head as Buffer;
    if (head.length === 0) upstream.write(text, 'latin1');
    else upstream.write(Buffer.concat([Buffer.from(text, 'latin1'), head]));
  }

  /** Until the backend's status line is in, read it ourselves: a 5xx means try another. */
  status(t: Tunnel, chunk: Buffer): void {
    const answer = t.received === null ? chunk : Buffer.concat([t.received, chunk]);
    if (answer.length < 12 && answer.length < MAX_STATUS_WAIT_BYTES) {
      t.received = answer;
      return;
    }
    t.received = null;
    const status = answer.toString('latin1', 9, 12);
    const upstream = t.upstream as TunnelSocket;
    if (status.startsWith('5') && (t.tried as Set<Backend>).size <= this.config.connectRetries) {
      this.retryOrFail(t, 'refused', status);
      return;
    }
    upstream.setTimeout(0);
    if (status !== '101') {
      // The backend refused the upgrade (a 4xx, or a 5xx with no one else to try): pass its answer on.
      t.phase = DONE;
      t.client.end(answer);
      upstream.destroy();
      this.release(t);
      return;
    }
    this.pipe(t, answer);
  }

  /** The backend failed before its answer: forget it, then another backend or 502. */
  retryOrFail(t: Tunnel, kind: 'connect' | 'reset' | 'timeout' | 'refused', status?: string): void {
    if (t.phase !== CONNECTING) return;
    const backend = t.backend as Backend;
    const upstream = t.upstream as TunnelSocket;
    // Its late events (close after destroy) must not reach this tunnel's next attempt.
    upstream[kTunnel] = undefined;
    upstream.destroy();
    t.upstream = null;
    this.release(t);
    if (kind !== 'refused') this.set.proxyFailed(backend, kind, this.logger);
    this.logger.debug({ backend: backend.address, kind, status }, 'backend failed before the upgrade; trying another');
    if ((t.tried as Set<Backend>).size <= this.config.connectRetries) {
      t.phase = CHOOSING;
      this.attempt(t);
    } else {
      t.phase = DONE;
      refuse(t.client, 502, 'Bad Gateway');
    }
  }

  /** The client went before the tunnel opened. */
  clientGone(t: Tunnel): void {
    if (t.phase === OPEN) {
      this.finish(t);
      return;
    }
    if (t.phase === CONNECTING) (t.upstream as TunnelSocket).destroy();
    t.phase = DONE;
    this.release(t);
  }

  private pipe(t: Tunnel, first: Buffer): void {
    const client = t.client;
    const upstream = t.upstream as TunnelSocket;
    t.phase = OPEN;
    t.req = null;
    t.head = null;
    client.write(first);
    // Any end of either side ends both: no half-open tunnels left holding fds. The upstream's
    // reads, error and close listeners are the ones set at connect; they forward now.
    client.on('data', onClientData);
    client.on('end', onTunnelEnd);
    client.on('drain', onClientDrain);
    upstream.on('end', onTunnelEnd);
    upstream.on('drain', onUpstreamDrain);
    this.open.add(t);
    if (this.config.tunnelTimeout > 0 && this.sweeper === null) {
      this.sweeper = setInterval(() => this.sweep(), Math.min(1000, (this.config.tunnelTimeout * 1000) / 4));
      this.sweeper.unref();
    }
  }

  finish(t: Tunnel): void {
    if (t.phase !== OPEN) return;
    t.phase = DONE;
    this.open.delete(t);
    const upstream = t.upstream as TunnelSocket;
    balancerMetrics.bytes.inc(UPSTREAM_BYTES, upstream.bytesWritten);
    balancerMetrics.bytes.inc(DOWNSTREAM_BYTES, t.client.bytesWritten);
    t.client.destroy();
    upstream.destroy();
    this.release(t);
  }

  /**
   * Close tunnels silent in both directions for `tunnelTimeout`: one timer for
   * all of them (a tunnel only flags that data moved), so it closes between
   * `tunnelTimeout` and `tunnelTimeout` + two sweep periods (≤ 2 s) after the last byte.
   */
  private sweep(): void {
    if (this.open.size === 0) {
      this.close();
      return;
    }
    const now = performance.now();
    const limit = this.config.tunnelTimeout * 1000;
    for (const t of this.open) {
      if (t.active) {
        t.active = false;
        t.idleSince = now;
      } else if (now - t.idleSince >= limit) this.finish(t);
    }
  }

  private release(t: Tunnel): void {
    if (t.released) return;
    t.released = true;
    this.set.release(t.backend as Backend, 'websocket');
  }
}

// The shared listeners: `this` is the socket that emitted; a socket no longer part of a tunnel has none.

function onClientClose(this: TunnelSocket): void {
  const t = this[kTunnel];
  if (t !== undefined) t.handler.clientGone(t);
}

function onClientData(this: TunnelSocket, chunk: Buffer): void {
  const t = this[kTunnel];
  if (t === undefined || t.phase !== OPEN) return;
  t.active = true;
  if (!(t.upstream as TunnelSocket).write(chunk)) this.pause();
}

function onClientDrain(this: TunnelSocket): void {
  const t = this[kTunnel];
  if (t !== undefined && t.phase === OPEN) (t.upstream as TunnelSocket).resume();
}

function onUpstreamDrain(this: TunnelSocket): void {
  const t = this[kTunnel];
  if (t !== undefined && t.phase === OPEN) t.client.resume();
}

function onTunnelEnd(this: TunnelSocket): void {
  const t = this[kTunnel];
  if (t !== undefined) t.handler.finish(t);
}

function onUpstreamConnect(this: TunnelSocket): void {
  const t = this[kTunnel];
  if (t !== undefined && t.phase === CONNECTING) t.handler.connected(t);
}

/** A read from the backend (into READ_BUFFER); false stops reading until the client drains. */
function onUpstreamRead(upstream: TunnelSocket, length: number): boolean {
  const t = upstream[kTunnel];
  if (t === undefined) return true;
  // A copy: the client's socket may keep the chunk queued, and the next read overwrites the buffer.
  const chunk = Buffer.allocUnsafe(length);
  READ_BUFFER.copy(chunk, 0, 0, length);
  if (t.phase === OPEN) {
    t.active = true;
    return t.client.write(chunk);
  }
  if (t.phase === CONNECTING) t.handler.status(t, chunk);
  return true;
}

function onUpstreamTimeout(this: TunnelSocket): void {
  const t = this[kTunnel];
  if (t !== undefined) t.handler.retryOrFail(t, 'timeout');
}

function onUpstreamError(this: TunnelSocket, err: NodeJS.ErrnoException): void {
  const t = this[kTunnel];
  if (t === undefined) return;
  if (t.phase === OPEN) t.handler.finish(t);
  else t.handler.retryOrFail(t, this.connecting || err.code === 'ECONNREFUSED' ? 'connect' : 'reset');
}

function onUpstreamClose(this: TunnelSocket): void {
  const t = this[kTunnel];
  if (t === undefined) return;
  if (t.phase === OPEN) t.handler.finish(t);
  else if (!t.released) t.handler.retryOrFail(t, 'reset');
}

/** Answer an upgrade with an HTTP error and close. */
export function refuse(socket: Duplex, status: number, text: string): void {
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
