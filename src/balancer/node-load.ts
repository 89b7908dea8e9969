import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/**
 * The load a node reports in its `/ready` body for balancers. It lives with
 * the balancer because the balancer is its reader; the node only calls it.
 * Event-loop utilization is the delta over the last interval: the
 * cumulative figure since start would hide a node that just got busy.
 */
export interface NodeLoadReport {
  connections: number;
  elu: number;
  rssBytes: number;
  heapUsedBytes: number;
  state: 'ready' | 'draining';
}

export class LoadSampler {
  private last: EventLoopUtilization = performance.eventLoopUtilization();
  private elu = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 1000) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    const now = performance.eventLoopUtilization();
    this.elu = performance.eventLoopUtilization(now, this.last).utilization;
    this.last = now;
  }

  report(connections: number, draining: boolean): NodeLoadReport {
    const memory = process.memoryUsage();
    return {
      connections,
      elu: Math.round(this.elu * 1000) / 1000,
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      state: draining ? 'draining' : 'ready',
    };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
