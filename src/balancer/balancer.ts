import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { workerSlot } from '../cluster/workers.js';
import type { Logger } from '../util/logger.js';
import { tlsPairOf, watchTlsPair } from '../util/tls-files.js';
import type { Backend } from './backend.js';
import { BackendSet } from './backend-set.js';
import { HealthChecker } from './checker.js';
import { parseBackendSpec, type BalancerConfig } from './config.js';
import { RedisDiscovery } from './discovery.js';
import { plainAddress } from './forwarding.js';
import { HttpForwarder, reply } from './http-forward.js';
import { balancerMetrics, balancerRegistry } from '../metrics/balancer.js';
import { Rebalancer } from './rebalancer.js';
import { refuse, TunnelHandler } from './tunnel.js';

/** `GET /balancer`: one backend. */
interface BackendDescription {
  address: string;
  /** The address a named backend resolved to (null until it has; the address itself for an IP). */
  resolvedAddress: string | null;
  state: string;
  ejected: boolean;
  ejectionLeftMs: number;
  activeConnections: number;
  httpRequests: number;
  weight: number;
  effectiveWeight: number;
  latencyMs: number;
  load: Backend['load'];
  health: Array<{ at: number; from: string; to: string; reason: string }>;
}

const APP_PATH = /^\/apps?\/([^/?]+)/;

/** A `.` or `..` segment, plain or percent-encoded. */
const DOT_SEGMENT = /(^|\/)(\.|%2e){1,2}(\/|$)/i;

/**
 * With `internalPort` set, what `--listen` serves: the Pusher protocol's
 * WebSocket path, the HTTP API, and `/endpoints` for clients that pick a
 * node themselves. Everything else (ours and the nodes' internal paths) is
 * 404 there, and so is a path with dot segments: the nodes match paths
 * as sent, but whatever normalizes `/apps/../cluster` on the way must not
 * turn a public path into an internal one.
 */
function isPublic(path: string, upgrade: boolean): boolean {
  if (DOT_SEGMENT.test(path)) return false;
  return upgrade ? path.startsWith('/app/') : path.startsWith('/apps/') || path === '/endpoints';
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0] ?? '/';
}

/** The key consistent hashing uses for a request. */
function hashKeyOf(config: BalancerConfig, req: IncomingMessage): string | undefined {
  switch (config.hashKey) {
    case 'client-ip':
      return plainAddress(req.socket.remoteAddress);
    case 'query': {
      const url = req.url ?? '';
      const q = url.indexOf('?');
      return q === -1 ? undefined : (new URLSearchParams(url.slice(q + 1)).get(config.hashQueryParam) ?? undefined);
    }
    case 'app-key':
      // `/app/{key}` for WebSockets, `/apps/{id}/...` for the HTTP API.
      return APP_PATH.exec(req.url ?? '')?.[1];
  }
}

/**
 * `switchboard balance`: one address in front of the nodes. Owns the
 * listening server, the backend set, active checks, discovery and
 * rebalancing; the proxying itself is TunnelHandler's and HttpForwarder's.
 */
export class Balancer {
  readonly set: BackendSet;
  private readonly server: Server;
  /** `internalPort`'s server: the balancer's own views, off the public port. */
  private readonly internal: Server | null;
  internalPort = 0;
  /** The same server when it terminates TLS (its certificate can be reloaded). */
  private readonly tlsServer: TlsServer | null;
  private readonly checker: HealthChecker;
  private discovery: RedisDiscovery | null = null;
  private rebalancer: Rebalancer | null = null;
  private readonly tunnels: TunnelHandler;
  private readonly http: HttpForwarder;
  private readonly sockets = new Set<Duplex>();
  private readonly views = new Map<string, () => unknown>();
  private stopTlsWatch = (): void => undefined;
  port = 0;

  constructor(
    readonly config: BalancerConfig,
    private readonly logger: Logger,
  ) {
    this.set = new BackendSet(config);
    this.checker = new HealthChecker(
      this.set,
      { intervalMs: config.healthInterval * 1000, fastIntervalMs: config.healthFastInterval * 1000, timeoutMs: config.healthTimeout * 1000 },
      logger,
    );
    const key = (req: IncomingMessage): string | undefined => hashKeyOf(config, req);
    this.tunnels = new TunnelHandler(config, this.set, logger, key);
    this.http = new HttpForwarder(config, this.set, logger, key);
    const options: ServerOptions = {
      maxHeaderSize: config.maxHeaderBytes,
      headersTimeout: config.headersTimeout * 1000,
      requestTimeout: config.requestTimeout * 1000,
      // Node checks the two timeouts above on this period (default 30 s): a slowloris must not outlive headersTimeout by much.
      connectionsCheckingInterval: Math.min(1000, (config.headersTimeout * 1000) / 2),
      keepAliveTimeout: 5000,
      noDelay: true,
    };
    // The same request handling either way: node:https hands over the decrypted request and upgrade the way node:http does.
    const pair = tlsPairOf(config);
    this.tlsServer = pair === null ? null : createTlsServer({ ...options, ...pair });
    this.server = this.tlsServer ?? createServer(options);
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => this.request(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (this.internal !== null && !isPublic(pathOf(req), true)) {
        balancerMetrics.proxyErrors.inc({ kind: 'not-public' });
        socket.on('error', () => undefined);
        refuse(socket, 404, 'Not Found');
        return;
      }
      this.tunnels.handle(req, socket, head);
    });
    this.internal =
      config.internalPort === undefined
        ? null
        : createServer(options, (req, res) => {
            if (req.method === 'GET' && this.isOwnView(pathOf(req))) void this.local(pathOf(req), res);
            else reply(res, 404, 'not found');
          });
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    // A client that cannot complete the handshake (plain HTTP on the TLS port, no shared cipher, a scanner):
    // node:tls has closed it already; count and log it like any other bad request.
    this.tlsServer?.on('tlsClientError', (err: NodeJS.ErrnoException) => {
      balancerMetrics.proxyErrors.inc({ kind: 'tls-handshake' });
      logger.debug({ err: err.code ?? err.message }, 'TLS handshake failed');
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      balancerMetrics.proxyErrors.inc({ kind: 'bad-request' });
      const status =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? '408 Request Timeout'
            : '400 Bad Request';
      if (socket.writable && !(socket as Socket).destroyed) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      // end() may wait on a peer that never reads: the fd goes regardless.
      setTimeout(() => socket.destroy(), 1000).unref();
    });
  }

  async start(): Promise<number> {
    for (const text of this.config.backend) {
      const spec = parseBackendSpec(text);
      this.checker.watch(this.set.add(spec.host, spec.port, spec.weight, false));
    }
    if (this.config.discover === 'redis') {
      this.discovery = new RedisDiscovery(
        { redisUrl: this.config.redisUrl ?? '', keyPrefix: this.config.keyPrefix, nodeTimeoutMs: this.config.nodeTimeout * 1000 },
        {
          // Nodes found in the first seconds were there before us: no slow start for them.
          added: (host, port) => this.addBackend(host, port, performance.now() - startedAt > 3000),
          removed: (address) => this.removeBackend(address),
        },
        this.logger,
      );
      const startedAt = performance.now();
      await this.discovery.start();
    }
    // One rebalancer per port: with --workers only slot 0 runs it, on the counts the nodes report
    // (each worker sees only its own share of the tunnels).
    const slot = workerSlot();
    if (this.config.rebalance && this.config.adminToken !== undefined && (slot === null || slot === 0)) {
      this.rebalancer = new Rebalancer(
        { threshold: this.config.rebalanceThreshold, ratePerSecond: this.config.rebalanceRate },
        () => this.set.all().filter((b) => !b.removed && b.health.state === 'up' && !b.health.isEjected(performance.now())),
        slot === null ? (b) => b.connections : (b) => b.load?.connections ?? b.connections,
        this.config.adminToken,
        this.logger,
      );
      this.rebalancer.start();
    }
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port: this.config.listen, host: this.config.host, backlog: 4096 }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    if (this.internal !== null) {
      const internal = this.internal;
      await new Promise<void>((resolve, reject) => {
        internal.once('error', reject);
        internal.listen({ port: this.config.internalPort, host: this.config.internalHost }, () => {
          internal.off('error', reject);
          resolve();
        });
      });
      this.internalPort = (internal.address() as AddressInfo).port;
    }
    this.stopTlsWatch = watchTlsPair(this.tlsServer, this.config, this.logger);
    this.logger.info(
      {
        host: this.config.host,
        port: this.port,
        tls: this.tlsServer !== null,
        ...(this.internal !== null ? { internalHost: this.config.internalHost, internalPort: this.internalPort } : {}),
        algorithm: this.config.algorithm,
        backends: this.set.all().length,
        discover: this.config.discover,
      },
      'switchboard balancer listening',
    );
    return this.port;
  }

  /**
   * A backend joins at runtime (discovery, or `switchboard cluster`'s supervisor): checked at
   * once; `late` ramps it through slow start, as a node that joins a running cluster should.
   */
  addBackend(host: string, port: number, late: boolean): void {
    this.checker.watch(this.set.add(host, port, 1, late));
  }

  /** A backend leaves at runtime: no new traffic from now; its open tunnels run until they close. */
  removeBackend(address: string): void {
    const b = this.set.get(address);
    if (b !== undefined) this.checker.unwatch(b);
    this.set.remove(address);
  }

  /** Answer `GET path` with `view()` as JSON next to `/balancer` (the supervisor's `/supervisor`). */
  serveJson(path: string, view: () => unknown): void {
    this.views.set(path, view);
  }

  /**
   * Stop: the port takes no new connections at once (they go to the other
   * balancers), HTTP requests under way finish, and the open tunnels are
   * closed evenly over `drainSeconds` (0, the default here: at once; the CLI
   * passes `--drain-seconds` on SIGTERM), then everything left is destroyed.
   */
  async stop(options: { drainSeconds?: number } = {}): Promise<void> {
    this.stopTlsWatch();
    this.rebalancer?.stop();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const drainSeconds = options.drainSeconds ?? 0;
    if (drainSeconds > 0 && this.tunnels.size > 0) {
      this.logger.info({ tunnels: this.tunnels.size, drainSeconds }, 'balancer draining');
      await this.tunnels.drain(drainSeconds);
    }
    this.checker.stop();
    this.tunnels.close();
    await this.discovery?.stop();
    this.server.closeAllConnections();
    for (const s of this.sockets) s.destroy();
    if (this.internal !== null) {
      this.internal.close();
      this.internal.closeAllConnections();
    }
    await closed;
    this.set.close();
  }

  describe(): unknown {
    const now = performance.now();
    return {
      algorithm: this.config.algorithm,
      discover: this.config.discover,
      panic: this.set.panic,
      connections: this.set.total,
      rebalancing: this.rebalancer?.active ?? false,
      rebalanceEvents: this.rebalancer?.recent ?? [],
      backends: this.set.all().map((b): BackendDescription => {
        b.refresh(now);
        return {
          address: b.address,
          resolvedAddress: b.resolver.address,
          state: b.removed ? 'removed' : b.health.state,
          ejected: b.health.isEjected(now),
          ejectionLeftMs: Math.round(b.health.ejectionLeft(now)),
          activeConnections: b.connections,
          httpRequests: b.requests,
          weight: b.baseWeight,
          effectiveWeight: Math.round(b.weight * 1000) / 1000,
          latencyMs: Math.round(b.latencyMs * 100) / 100,
          load: b.load,
          health: b.health.history.map((t) => ({ ...t, at: Math.round(Date.now() - (now - t.at)) })),
        };
      }),
    };
  }

  /** `GET /endpoints`: healthy nodes' URLs and load, for clients that pick a node themselves (direct mode). */
  endpoints(): unknown {
    const healthy = this.set.eligible().filter((b) => b.health.state === 'up');
    return {
      endpoints: healthy.map((b) => ({
        url: b.publicUrl,
        address: b.address,
        weight: b.baseWeight,
        connections: b.load?.connections ?? b.connections,
        elu: b.load?.elu ?? null,
      })),
    };
  }

  /** The balancer's own GET paths (on `--listen`, or on `internalPort` when there is one; `/endpoints` stays public). */
  private isOwnView(path: string): boolean {
    return path === '/balancer' || path === '/metrics' || this.views.has(path);
  }

  private request(req: IncomingMessage, res: ServerResponse): void {
    const path = pathOf(req);
    if (this.internal !== null && !isPublic(path, false)) {
      balancerMetrics.proxyErrors.inc({ kind: 'not-public' });
      reply(res, 404, 'not found');
      return;
    }
    if (req.method === 'GET' && (path === '/endpoints' || (this.internal === null && this.isOwnView(path)))) {
      void this.local(path, res);
      return;
    }
    this.http.handle(req, res);
  }

  private async local(path: string, res: ServerResponse): Promise<void> {
    if (path === '/metrics') {
      const text = await balancerRegistry.metrics();
      res.writeHead(200, { 'content-type': balancerRegistry.contentType });
      res.end(text);
      return;
    }
    const view = this.views.get(path);
    const body = JSON.stringify(view !== undefined ? view() : path === '/balancer' ? this.describe() : this.endpoints());
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
  }
}
