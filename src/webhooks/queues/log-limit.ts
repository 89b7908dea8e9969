import type { Logger } from '../../util/logger.js';

/**
 * A warning that repeats while a broker is down, logged at most once per
 * interval per key with the count of those held back, so an outage of minutes
 * costs a few lines rather than one per retry.
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 10_000,
  ) {}

  warn(key: string, fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const seen = this.last.get(key);
    if (seen !== undefined && now - seen.at < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    this.last.set(key, { at: now, suppressed: 0 });
    this.logger.warn({ ...fields, ...(seen !== undefined && seen.suppressed > 0 ? { suppressed: seen.suppressed } : {}) }, msg);
  }

  /** The condition is over: log that once (if it was logged at all), with the warnings held back since, and forget the key. */
  recovered(key: string, fields: Record<string, unknown>, msg: string): void {
    const seen = this.last.get(key);
    if (seen === undefined) return;
    this.last.delete(key);
    this.logger.info({ ...fields, ...(seen.suppressed > 0 ? { suppressed: seen.suppressed } : {}) }, msg);
  }
}
