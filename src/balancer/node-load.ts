import { EluMeter } from '../monitor/loop.js';

/**
 * The load a node reports in its `/ready` body for balancers. It lives with
 * the balancer because the balancer is its reader; the node only calls it.
 * Event-loop utilization is that of the last interval: the resource
 * monitor's latest sample when the monitor runs (one measurement, so
 * `/ready`, the heartbeats and the dashboard agree), else this sampler's
 * own, every second.
 */
export interface NodeLoadReport {
  connections: number;
  elu: number;
  rssBytes: number;
  heapUsedBytes: number;
  state: 'ready' | 'draining';
}

/** The resource monitor as the load report reads it (src/monitor/monitor.ts NodeMonitor). */
export interface EluSource {
  /** The latest sample; undefined before the first. */
  latest(): { elu: number } | undefined;
}

export class LoadSampler {
  private ownElu = 0;
  private readonly timer: NodeJS.Timeout | null = null;

  /** `monitor`: the node's resource monitor, null when it is off (`--monitor false`). */
  constructor(
    private readonly monitor: EluSource | null,
    intervalMs = 1000,
  ) {
    if (monitor !== null) return;
    const meter = new EluMeter();
    this.timer = setInterval(() => {
      this.ownElu = meter.read();
    }, intervalMs);
    this.timer.unref();
  }

  report(connections: number, draining: boolean): NodeLoadReport {
    const memory = process.memoryUsage();
    // Before the monitor's first sample (within monitorIntervalMs of the start): 0, as before this sampler's first.
    const elu = this.monitor === null ? this.ownElu : (this.monitor.latest()?.elu ?? 0);
    return {
      connections,
      elu: Math.round(elu * 1000) / 1000,
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      state: draining ? 'draining' : 'ready',
    };
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
  }
}
