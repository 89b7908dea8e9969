import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';

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

// 20 ms resolution: p99s of interest are tens to hundreds of ms, and a finer timer costs wake-ups.
const LOOP_DELAY_RESOLUTION_MS = 20;

/**
 * Event-loop delay over the interval since the previous read: the p99 of
 * how late a 20 ms timer runs (`monitorEventLoopDelay()`, whose timer runs
 * in C++, no JS per wake-up), reset per interval.
 *
 * A reset also forgets when that timer last ran, so its first run after a
 * reset records nothing: a block that starts after the reset and before
 * that run (up to 20 ms later) was never recorded (measured on Node 20: a
 * 150 ms block right after a reset read as 1 ms). A load whose rhythm
 * matches the interval (the admission test's 150 ms busy in every 200 ms,
 * sampled every 200 ms) can sit in that window sample after sample. So each
 * reset arms a one-shot JS timer over exactly that window; how late it ran
 * counts as one more record. One JS wake-up per interval, not 50 a second.
 */
export class LoopDelayMeter {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  private probe: NodeJS.Timeout | null = null;
  private probeDue = 0;
  /** How late the probe ran, ms; null while it has not run. */
  private probeLateMs: number | null = null;

  constructor() {
    this.histogram.enable();
    this.armProbe();
  }

  /** The p99 delay since the previous call, ms (0 for an idle loop), and a fresh interval. */
  readP99Ms(): number {
    const h = this.histogram;
    // The histogram records whole intervals between its runs; less the resolution, that is the delay.
    const recorded = h.count === 0 ? 0 : Math.max(0, h.percentile(99) / 1e6 - LOOP_DELAY_RESOLUTION_MS);
    // A probe still waiting is as late as it is now.
    const probe = this.probeLateMs ?? Math.max(0, performance.now() - this.probeDue);
    // The probe is one record more: with under 100 records the p99 is the highest, else one record does not move it.
    const p99 = h.count < 100 ? Math.max(recorded, probe) : recorded;
    h.reset();
    this.armProbe();
    return p99;
  }

  stop(): void {
    this.histogram.disable();
    if (this.probe !== null) clearTimeout(this.probe);
    this.probe = null;
  }

  private armProbe(): void {
    if (this.probe !== null) clearTimeout(this.probe);
    this.probeLateMs = null;
    this.probeDue = performance.now() + LOOP_DELAY_RESOLUTION_MS;
    this.probe = setTimeout(() => {
      this.probe = null;
      this.probeLateMs = Math.max(0, performance.now() - this.probeDue);
    }, LOOP_DELAY_RESOLUTION_MS);
    this.probe.unref();
  }
}
