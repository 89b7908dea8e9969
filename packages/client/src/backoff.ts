/**
 * Full-jitter exponential backoff: the n-th retry waits a uniform random time in
 * [0, min(maxMs, minMs * 2^n)], so clients that lost the same node at the same moment spread out
 * instead of returning in waves. Every retry in the client goes through one of these.
 */
export interface BackoffOptions {
  /** The first ceiling (default 500 ms). */
  minMs?: number;
  /** The largest ceiling (default 20 s). */
  maxMs?: number;
  /** Random source in [0, 1) (tests pass their own). */
  random?: () => number;
}

const DEFAULT_BACKOFF_MIN_MS = 500;
const DEFAULT_BACKOFF_MAX_MS = 20_000;

/** The ceiling of the `attempt`-th delay (attempt 0 first). */
export function backoffCeiling(attempt: number, minMs = DEFAULT_BACKOFF_MIN_MS, maxMs = DEFAULT_BACKOFF_MAX_MS): number {
  // 2^30 is far past any sane cap; bounding the exponent keeps the arithmetic finite.
  return Math.min(maxMs, minMs * 2 ** Math.min(Math.max(0, attempt), 30));
}

export class Backoff {
  private attempt = 0;
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.minMs = options.minMs ?? DEFAULT_BACKOFF_MIN_MS;
    this.maxMs = Math.max(this.minMs, options.maxMs ?? DEFAULT_BACKOFF_MAX_MS);
    this.random = options.random ?? Math.random;
  }

  /** How many delays have been taken since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The next delay in ms; each call raises the ceiling until it reaches `maxMs`. */
  next(): number {
    const ceiling = backoffCeiling(this.attempt, this.minMs, this.maxMs);
    this.attempt++;
    return Math.floor(this.random() * ceiling);
  }

  reset(): void {
    this.attempt = 0;
  }
}
