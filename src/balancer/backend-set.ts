import { createAlgorithm, type Algorithm } from './algorithms.js';
import { Backend } from './backend.js';
import type { BalancerConfig } from './config.js';
import type { HealthSettings } from './health.js';
import type { HttpPoolSettings } from './http-pool.js';
import { balancerMetrics } from '../metrics/balancer.js';
import type { Logger } from '../util/logger.js';

/** Why no backend could be chosen. */
export type NoBackend = 'none' | 'full';

/**
 * The backends and the choice among them: which are eligible (health,
 * ejection, draining, panic, limits) and which of those the algorithm picks.
 */
export class BackendSet {
  private readonly byAddress = new Map<string, Backend>();
  readonly algorithm: Algorithm;
  readonly healthSettings: HealthSettings;
  private readonly httpSettings: HttpPoolSettings;
  panic = false;
  /** Tunnels and HTTP requests open through this process, all backends: what the limits count. */
  total = 0;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly config: BalancerConfig,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.algorithm = createAlgorithm(config.algorithm, { hashBalanceFactor: config.hashBalanceFactor });
    this.healthSettings = {
      rise: config.healthRise,
      fall: config.healthFall,
      ejectAfterFailures: config.ejectAfterFailures,
      ejectBaseMs: config.ejectBaseSeconds * 1000,
      ejectMaxMs: config.ejectMaxSeconds * 1000,
      slowStartMs: config.slowStart * 1000,
    };
    this.httpSettings = {
      connections: config.httpPoolSize,
      connectTimeoutMs: config.connectTimeout * 1000,
      requestTimeoutMs: config.requestTimeout * 1000,
    };
  }

  /** Add a backend (or return the one at that address). `late` = joined after start-up: it ramps through slow start. */
  add(host: string, port: number, weight: number, late: boolean): Backend {
    const address = `${host}:${port}`;
    const existing = this.byAddress.get(address);
    if (existing !== undefined) {
      existing.removed = false;
      return existing;
    }
    const backend = new Backend(address, host, port, weight, this.healthSettings, late, this.httpSettings);
    this.byAddress.set(address, backend);
    return backend;
  }

  /** Forget a backend for new traffic; its open tunnels keep running until they close. */
  remove(address: string): void {
    const backend = this.byAddress.get(address);
    if (backend === undefined) return;
    backend.removed = true;
    if (backend.active === 0) this.drop(backend);
  }

  /** A tunnel (or an HTTP request) on `backend` ended: a removed backend with nothing left goes. */
  release(backend: Backend, kind: 'websocket' | 'http'): void {
    if (kind === 'websocket') backend.closed();
    else backend.requests--;
    this.total--;
    if (backend.removed && backend.active === 0) this.drop(backend);
    this.wake();
  }

  get(address: string): Backend | undefined {
    return this.byAddress.get(address);
  }

  all(): Backend[] {
    return [...this.byAddress.values()];
  }

  /** Backends that can take new traffic as far as health goes (panic mode included). */
  eligible(): Backend[] {
    const now = this.now();
    const live = this.all().filter((b) => !b.removed);
    const healthy = live.filter((b) => b.health.state === 'up' && !b.health.isEjected(now));
    // Draining backends never count and never get new traffic, even in panic.
    const candidates = live.filter((b) => b.health.state !== 'draining');
    const panic = candidates.length > 0 && healthy.length * 100 < candidates.length * this.config.panicThreshold;
    if (panic !== this.panic) {
      this.panic = panic;
      balancerMetrics.panic.set(panic ? 1 : 0);
    }
    // Panic (Envoy's term): too few healthy to carry the load, so spread it over every
    // non-draining backend rather than crush the survivors.
    const chosen = panic ? candidates : healthy;
    for (const b of chosen) b.refresh(now);
    return chosen;
  }

  /** Whether one more backend may be ejected (at most `maxEjectedPercent`, at least one). */
  mayEject(): boolean {
    const now = this.now();
    const live = this.all().filter((b) => !b.removed);
    const ejected = live.filter((b) => b.health.isEjected(now)).length;
    const allowed = Math.max(1, Math.floor((live.length * this.config.maxEjectedPercent) / 100));
    return ejected < allowed;
  }

  /**
   * A proxied request or tunnel failed at `backend` before its answer: the
   * error metric, a strike on its passive health, and a warning when this
   * ejected it. Every failure counts alike, connect, reset or timeout: each
   * says the backend cannot take traffic now.
   */
  proxyFailed(backend: Backend, kind: 'connect' | 'reset' | 'timeout', logger: Logger): void {
    balancerMetrics.proxyErrors.inc({ kind });
    if (!backend.health.connectFailed(this.now(), this.mayEject())) return;
    balancerMetrics.ejections.inc({ backend: backend.address });
    logger.warn({ backend: backend.address, ejections: backend.health.consecutiveEjections }, 'backend ejected after failures');
  }

  /** Pick among eligible backends not in `exclude`, within the connection limits (WebSockets and HTTP requests count alike). */
  choose(key: string | undefined, exclude: ReadonlySet<Backend>, tunnel: boolean): Backend | NoBackend {
    const eligible = this.eligible().filter((b) => !exclude.has(b));
    if (eligible.length === 0) return 'none';
    if (this.config.maxConnections > 0 && this.total >= this.config.maxConnections) return 'full';
    const perBackend = this.config.maxConnectionsPerBackend;
    const room = perBackend > 0 ? eligible.filter((b) => b.active < perBackend) : eligible;
    if (room.length === 0) return 'full';
    const backend = this.algorithm.pick(room, { key }) as Backend;
    balancerMetrics.selections.inc({ backend: backend.address, kind: tunnel ? 'websocket' : 'http' });
    return backend;
  }

  /**
   * Choose, waiting up to `queueTimeout` for room when the limits are
   * reached. Resolves to the backend, or why there is none.
   */
  async chooseOrWait(key: string | undefined, exclude: ReadonlySet<Backend>, tunnel: boolean): Promise<Backend | NoBackend> {
    const first = this.choose(key, exclude, tunnel);
    if (first !== 'full' || this.config.queueTimeout === 0 || this.waiters.length >= this.config.maxQueued) return first;
    const deadline = Date.now() + this.config.queueTimeout * 1000;
    balancerMetrics.queued.inc();
    try {
      for (;;) {
        const left = deadline - Date.now();
        if (left <= 0) return 'full';
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          this.waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        const next = this.choose(key, exclude, tunnel);
        if (next !== 'full') return next;
      }
    } finally {
      balancerMetrics.queued.dec();
    }
  }

  /** A tunnel (or HTTP request) starts on `backend`: counted before the connect, so concurrent picks see it. */
  acquire(backend: Backend, kind: 'websocket' | 'http'): void {
    if (kind === 'websocket') backend.opened();
    else backend.requests++;
    this.total++;
  }

  close(): void {
    for (const b of this.byAddress.values()) b.close();
    this.byAddress.clear();
    this.wake();
  }

  private drop(backend: Backend): void {
    this.byAddress.delete(backend.address);
    balancerMetrics.connections.remove({ backend: backend.address });
    backend.close();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
