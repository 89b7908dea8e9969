/** Full-jitter exponential backoff: a random delay in [0, min(cap, base * 2^attempt)], reset on success. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly baseMs = 100,
    private readonly capMs = 2000,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt. */
  next(): number {
    const ceiling = Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.attempt, 20));
    this.attempt++;
    // Never zero: a broker that refuses at once would otherwise be hammered in a tight loop.
    return Math.max(10, Math.round(this.random() * ceiling));
  }

  reset(): void {
    this.attempt = 0;
  }
}
