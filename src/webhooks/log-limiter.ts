/**
 * At most one log line per key per interval: a dead endpoint retried by
 * thousands of batches must not flood the log. The line that gets through
 * carries how many were suppressed since the previous one.
 */
export class LogLimiter {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Calls `log(suppressed)` if this key has not logged within the interval; counts the call otherwise. */
  maybe(key: string, log: (suppressed: number) => void): void {
    const t = this.now();
    const entry = this.last.get(key);
    if (entry !== undefined && t - entry.at < this.intervalMs) {
      entry.suppressed++;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.last.set(key, { at: t, suppressed: 0 });
    log(suppressed);
  }
}
