import { createHistogram, performance, type EventLoopUtilization, type RecordableHistogram } from 'node:perf_hooks';

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
 * Event-loop delay over the interval since the previous read: a timer due
 * every 20 ms records how late it runs. Not `monitorEventLoopDelay()` with
 * a `reset()` per interval: a reset also forgets when that histogram's timer
 * last ran, so a block that starts after the reset and before the timer's
 * next run is never recorded (measured on Node 20: a 150 ms block right
 * after a reset read as 1 ms). A load whose rhythm matches the interval
 * (the admission test's 150 ms busy in every 200 ms, sampled every 200 ms)
 * can sit in that window sample after sample and never trip the signal.
 * Here the time of the last run outlives the reset, so every block is
 * counted, in the interval its end falls in.
 */
export class LoopDelayMeter {
  private readonly histogram: RecordableHistogram = createHistogram();
  private last = performance.now();
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => this.tick(), LOOP_DELAY_RESOLUTION_MS);
    this.timer.unref();
  }

  private tick(): void {
    const now = performance.now();
    // Lateness in microseconds; a histogram records integers from 1.
    this.histogram.record(Math.max(1, Math.round((now - this.last - LOOP_DELAY_RESOLUTION_MS) * 1000)));
    this.last = now;
  }

  /** The p99 delay since the previous call, ms (0 when the timer has not run), and a fresh interval. */
  readP99Ms(): number {
    const p99 = this.histogram.count === 0 ? 0 : this.histogram.percentile(99) / 1000;
    this.histogram.reset();
    return p99;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
