import type { LeaseHolder, LeaseStore } from '../adapters/types.js';

export interface LeaderState {
  /** This node holds the lease (and it has not run out by our own clock). */
  readonly isLeader: boolean;
  /** Owner string of the current holder, as last seen; null when unknown. */
  readonly holder: string | null;
  readonly token: number;
}

/**
 * Leader election on a lease. The holder renews every third of the lease;
 * others try to take it every quarter. A node counts itself leader only
 * until the lease it last renewed would run out, measured from *before* it
 * asked: whatever the store does, two nodes never both believe they lead.
 * Any failure to renew steps down at once.
 */
export class LeaderElector {
  private validUntil = 0;
  private holderOwner: string | null = null;
  private holderToken = 0;
  private timer: NodeJS.Timeout | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private running = false;
  private lastReported = false;

  constructor(
    private readonly store: LeaseStore,
    private readonly key: string,
    /** Unique per run of a node: a restarted node must not inherit its old lease. */
    private readonly owner: string,
    private readonly ttlMs: number,
    private readonly onChange: (state: LeaderState) => void = () => {},
    private readonly now: () => number = () => performance.now(),
  ) {}

  get state(): LeaderState {
    return { isLeader: this.isLeader, holder: this.holderOwner, token: this.holderToken };
  }

  get isLeader(): boolean {
    return this.validUntil > this.now();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.tick();
  }

  /** Stop campaigning; a graceful stop gives the lease back so a successor need not wait for it to expire. */
  async stop(release: boolean): Promise<void> {
    this.running = false;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.timer = this.expiryTimer = null;
    const wasLeader = this.isLeader;
    this.validUntil = 0;
    this.report();
    if (release && wasLeader) await this.store.release(this.key, this.owner).catch(() => undefined);
  }

  private async tick(): Promise<void> {
    this.timer = null;
    if (!this.running) return;
    const askedAt = this.now();
    // Safety margin for the time the answer takes to come back and for timer lateness.
    const margin = Math.min(500, this.ttlMs / 10);
    let holder: LeaseHolder | null = null;
    try {
      holder = await withTimeout(this.store.acquire(this.key, this.owner, this.ttlMs), this.ttlMs / 3);
    } catch {
      holder = null;
    }
    if (!this.running) return;
    if (holder !== null && holder.owner === this.owner) {
      this.validUntil = askedAt + this.ttlMs - margin;
      this.armExpiry();
    } else {
      this.validUntil = 0;
    }
    if (holder !== null) {
      this.holderOwner = holder.owner;
      this.holderToken = holder.token;
    } else {
      this.holderOwner = null;
    }
    this.report();
    const next = this.isLeader ? this.ttlMs / 3 : this.ttlMs / 4;
    this.timer = setTimeout(() => void this.tick(), next);
    this.timer.unref();
  }

  /** Step down by our own clock if a renewal is late, even while the store does not answer. */
  private armExpiry(): void {
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(
      () => {
        this.expiryTimer = null;
        this.report();
      },
      Math.max(1, this.validUntil - this.now() + 1),
    );
    this.expiryTimer.unref();
  }

  private report(): void {
    const isLeader = this.isLeader;
    if (isLeader === this.lastReported) return;
    this.lastReported = isLeader;
    this.onChange(this.state);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error('lease store timed out')), ms);
      timer.unref();
    }),
  ]);
}
