/**
 * Events per second over the last full second, for adaptive batching. It
 * advances only when events are recorded, so a measurement older than two
 * seconds reads as 0: after a quiet spell the first event must not wait on
 * old load.
 */
export class RateMeter {
  private windowStart = Date.now();
  private windowCount = 0;
  private recent = 0;

  record(count: number, now = Date.now()): void {
    this.windowCount += count;
    if (now - this.windowStart >= 1000) {
      this.recent = (this.windowCount * 1000) / (now - this.windowStart);
      this.windowStart = now;
      this.windowCount = 0;
    }
  }

  perSecond(now = Date.now()): number {
    return now - this.windowStart < 2000 ? this.recent : 0;
  }

  /**
   * Run `flush` after `waitMs` while the rate is at least `minRate` (under
   * load, waiting merges more work into one write), else at the end of this
   * event-loop turn (at light load waiting would only add latency).
   */
  scheduleFlush(flush: () => void, waitMs: number, minRate: number): void {
    if (waitMs > 0 && this.perSecond() >= minRate) setTimeout(flush, waitMs);
    else setImmediate(flush);
  }
}
