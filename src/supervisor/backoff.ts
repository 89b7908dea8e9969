/**
 * How long a crashed node waits before it is started again: 0.5 s, doubling
 * per crash up to `maxMs`, back to the start once a run lasted `stableMs`
 * (a node that crashes once a day restarts at once; one that crashes on
 * start does not spin). Pure: time is passed in.
 */
export class RestartBackoff {
  private crashes = 0;

  constructor(
    private readonly maxMs: number,
    private readonly baseMs = 500,
    private readonly stableMs = 60_000,
  ) {}

  /** A run that started at `startedAt` ended in a crash at `now`: the delay before the next start. */
  crashed(startedAt: number, now: number): number {
    if (now - startedAt >= this.stableMs) this.crashes = 0;
    this.crashes++;
    return Math.min(this.maxMs, this.baseMs * 2 ** (this.crashes - 1));
  }

  /** Crashes in the current run of crashes (0 after a stable run). */
  get consecutive(): number {
    return this.crashes;
  }
}
