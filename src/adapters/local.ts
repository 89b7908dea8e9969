import { LeaseTable } from './lease-table.js';
import { BrokerLink, type BrokerSession, type SessionSink } from './link.js';
import type { LeaseHolder } from './types.js';

/**
 * An in-process broker: subjects, subscribers and leases in memory.
 * Deliveries are asynchronous (next tick) like a network broker's, so code
 * written against the local adapter does not come to rely on re-entrancy.
 */
export class LocalBus {
  private readonly subscribers = new Map<string, Set<SessionSink>>();
  readonly leases = new LeaseTable();
  private pending: Array<readonly [string, string]> = [];
  private scheduled = false;

  publish(batch: ReadonlyArray<readonly [string, string]>): void {
    for (const item of batch) this.pending.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.deliverPending);
    }
  }

  subscribe(subject: string, sink: SessionSink): void {
    let set = this.subscribers.get(subject);
    if (set === undefined) this.subscribers.set(subject, (set = new Set()));
    set.add(sink);
  }

  unsubscribe(subject: string, sink: SessionSink): void {
    const set = this.subscribers.get(subject);
    if (set === undefined) return;
    set.delete(sink);
    if (set.size === 0) this.subscribers.delete(subject);
  }

  private readonly deliverPending = (): void => {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    for (const [subject, payload] of batch) {
      const set = this.subscribers.get(subject);
      if (set === undefined) continue;
      for (const sink of set) sink.deliver(subject, payload);
    }
  };
}

/** The process-wide bus the default local adapter uses. */
const processBus = new LocalBus();

class LocalSession implements BrokerSession {
  private readonly subjects = new Set<string>();

  constructor(
    private readonly bus: LocalBus,
    private readonly sink: SessionSink,
  ) {}

  publishBatch(batch: ReadonlyArray<readonly [string, string]>): void {
    this.bus.publish(batch);
  }

  async subscribe(subject: string): Promise<void> {
    this.subjects.add(subject);
    this.bus.subscribe(subject, this.sink);
  }

  unsubscribe(subject: string): void {
    this.subjects.delete(subject);
    this.bus.unsubscribe(subject, this.sink);
  }

  async acquire(key: string, owner: string, ttlMs: number): Promise<LeaseHolder> {
    return this.bus.leases.acquire(key, owner, ttlMs);
  }

  async release(key: string, owner: string): Promise<void> {
    this.bus.leases.release(key, owner);
  }

  async close(): Promise<void> {
    for (const subject of this.subjects) this.bus.unsubscribe(subject, this.sink);
    this.subjects.clear();
  }
}

/** The embedded default: nodes in one process share a LocalBus. No network. */
export class LocalAdapter extends BrokerLink {
  readonly kind = 'local' as const;

  constructor(
    private readonly bus: LocalBus = processBus,
    prefix = 'switchboard',
  ) {
    super({ prefix });
  }

  protected async openSession(sink: SessionSink): Promise<BrokerSession> {
    return new LocalSession(this.bus, sink);
  }
}
