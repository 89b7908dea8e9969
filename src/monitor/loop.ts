import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/**
 * Event-loop utilization over the interval since the previous read. The
 * one place it is computed: the resource monitor's samples, and the
 * `/ready` load report when the monitor is off (src/balancer/node-load.ts).
 * A delta, because the cumulative figure since start would hide a node that
 * just got busy.
 */
export class EluMeter {
  private last: EventLoopUtilization = performance.eventLoopUtilization();

  /** Utilization (0 to 1) since the previous call, or since construction. */
  read(): number {
    const now = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(now, this.last).utilization;
    this.last = now;
    return utilization;
  }
}
