import type { Logger } from '../util/logger.js';
import type { Backend } from './backend.js';
import { readCappedText } from './http-pool.js';
import { CLOSE_CONNECTIONS_PATH } from '../api/admin.js';
import { balancerMetrics } from '../metrics/balancer.js';

/** A backend as the rebalancing plan sees it. */
export interface LoadView {
  readonly address: string;
  readonly connections: number;
  /** Still in slow start: rebalancing waits until it is at full weight. */
  readonly ramping: boolean;
}

export interface RebalanceSettings {
  /** Max/mean ratio that starts a round. */
  threshold: number;
  /** Share of a node's connections that may be closed per second. */
  ratePerSecond: number;
}

/**
 * Decides, once per tick, how many connections each over-loaded node should
 * close. A round starts when max/mean passes the threshold (or a backend
 * just finished its slow start) and ends when the spread (max − min) / mean
 * is within half the threshold's margin (10% for 1.2), so every node ends
 * within that of the mean; the hysteresis keeps it from flapping. Each node has a token bucket filled at `ratePerSecond` of
 * its connections, so the pace is never above that, even for small nodes
 * (which then move one connection every few seconds).
 */
export class RebalancePlanner {
  active = false;
  private readonly tokens = new Map<string, number>();
  private wasRamping = new Set<string>();

  constructor(private readonly settings: RebalanceSettings) {}

  /** The closes to ask for now, given `elapsedSeconds` since the last tick. */
  tick(views: readonly LoadView[], elapsedSeconds: number): Map<string, number> {
    const closes = new Map<string, number>();
    const ramping = new Set(views.filter((v) => v.ramping).map((v) => v.address));
    const joined = [...this.wasRamping].some((a) => !ramping.has(a) && views.some((v) => v.address === a));
    this.wasRamping = ramping;
    // A backend in slow start is not yet meant to have its share: wait for it.
    if (ramping.size > 0 || views.length < 2) {
      this.active = false;
      this.tokens.clear();
      return closes;
    }
    const total = views.reduce((s, v) => s + v.connections, 0);
    const mean = total / views.length;
    if (mean < 1) return closes;
    const counts = views.map((v) => v.connections);
    const ratio = Math.max(...counts) / mean;
    const spread = (Math.max(...counts) - Math.min(...counts)) / mean;
    const converged = spread <= (this.settings.threshold - 1) / 2;
    if (!this.active && (ratio > this.settings.threshold || (joined && !converged))) this.active = true;
    else if (this.active && converged) this.active = false;
    if (!this.active) {
      this.tokens.clear();
      return closes;
    }
    for (const v of views) {
      const excess = Math.floor(v.connections - mean);
      if (excess <= 0) {
        this.tokens.delete(v.address);
        continue;
      }
      const bucket = Math.min(
        (this.tokens.get(v.address) ?? 0) + v.connections * this.settings.ratePerSecond * elapsedSeconds,
        Math.max(1, v.connections * this.settings.ratePerSecond),
      );
      const n = Math.min(excess, Math.floor(bucket));
      this.tokens.set(v.address, bucket - n);
      if (n > 0) closes.set(v.address, n);
    }
    return closes;
  }
}

/** Ask a node to close `count` connections with 4200 (its admin endpoint). Resolves to how many it closed. */
async function askToClose(backend: Backend, count: number, token: string, timeoutMs = 2000): Promise<number> {
  try {
    const res = await backend.http.control.request({
      method: 'POST',
      path: CLOSE_CONNECTIONS_PATH,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ count }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const answer = JSON.parse(await readCappedText(res.body)) as { closed?: unknown };
    return res.statusCode === 200 && typeof answer.closed === 'number' ? answer.closed : 0;
  } catch {
    return 0;
  }
}

export interface RebalanceEvent {
  at: string;
  backend: string;
  asked: number;
  closed: number;
}

/**
 * Runs the planner every second and sends each node its closes at a random
 * moment within the second (jitter), so that reconnects arrive spread out.
 */
export class Rebalancer {
  private readonly planner: RebalancePlanner;
  private timer: NodeJS.Timeout | null = null;
  private last = performance.now();
  readonly recent: RebalanceEvent[] = [];
  private readonly pending = new Set<NodeJS.Timeout>();

  constructor(
    settings: RebalanceSettings,
    private readonly backends: () => Backend[],
    private readonly countOf: (b: Backend) => number,
    private readonly token: string,
    private readonly logger: Logger,
    private readonly tickMs = 1000,
  ) {
    this.planner = new RebalancePlanner(settings);
  }

  get active(): boolean {
    return this.planner.active;
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
  }

  private tick(): void {
    const now = performance.now();
    const elapsed = (now - this.last) / 1000;
    this.last = now;
    const byAddress = new Map(this.backends().map((b) => [b.address, b]));
    const views = [...byAddress.values()].map((b) => ({ address: b.address, connections: this.countOf(b), ramping: b.health.ramping(now) }));
    const closes = this.planner.tick(views, elapsed);
    for (const [address, count] of closes) {
      const backend = byAddress.get(address);
      if (backend === undefined) continue;
      const timer = setTimeout(() => {
        this.pending.delete(timer);
        void askToClose(backend, count, this.token).then((closed) => {
          balancerMetrics.rebalanceCloses.inc({ backend: address }, closed);
          this.recent.push({ at: new Date().toISOString(), backend: address, asked: count, closed });
          if (this.recent.length > 50) this.recent.shift();
          this.logger.debug({ backend: address, asked: count, closed }, 'rebalance: asked a node to close connections');
        });
      }, Math.random() * this.tickMs);
      this.pending.add(timer);
    }
  }
}
