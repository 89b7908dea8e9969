import { randomUUID } from 'node:crypto';
import type { Endpoint } from './routing.js';
import type { QueuedBatch } from './types.js';

interface OpenBatch {
  readonly endpoint: Endpoint;
  readonly createdAt: number;
  /** Each event's JSON, serialised once in emit whatever the number of endpoints. */
  readonly events: string[];
  timer: NodeJS.Timeout | undefined;
}

/**
 * Collects each endpoint's events into batches that close at `maxEvents` or
 * `maxWaitMs` after their first event, and hands closed batches over in one
 * go per event-loop turn (setImmediate), never inside the caller's stack: the
 * caller is the publish path, the hand-over may be broker I/O.
 */
export class Batcher {
  private readonly open = new Map<string, OpenBatch>();
  private closed: QueuedBatch[] = [];
  private handOverScheduled = false;

  constructor(
    private readonly maxEvents: number,
    private readonly maxWaitMs: number,
    private readonly handOver: (batches: QueuedBatch[]) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Add an event (its JSON) to the endpoint's open batch, opening one if needed. */
  add(endpoint: Endpoint, eventJson: string): void {
    let batch = this.open.get(endpoint.key);
    if (batch === undefined) {
      batch = { endpoint, createdAt: this.now(), events: [], timer: undefined };
      this.open.set(endpoint.key, batch);
      if (this.maxWaitMs > 0 && this.maxEvents > 1) {
        const opened = batch;
        batch.timer = setTimeout(() => this.close(opened), this.maxWaitMs);
      }
    }
    batch.events.push(eventJson);
    if (batch.events.length >= this.maxEvents || this.maxWaitMs === 0) this.close(batch);
  }

  /** Close every open batch and hand them over now (used at stop). */
  flush(): void {
    for (const batch of [...this.open.values()]) this.close(batch);
    this.deliverClosed();
  }

  /** Open batches and their events, for tests and diagnostics. */
  get openBatches(): number {
    return this.open.size;
  }

  private close(batch: OpenBatch): void {
    if (this.open.get(batch.endpoint.key) !== batch) return;
    this.open.delete(batch.endpoint.key);
    if (batch.timer !== undefined) clearTimeout(batch.timer);
    this.closed.push({
      id: randomUUID(),
      appId: batch.endpoint.appId,
      endpoint: batch.endpoint.key,
      body: webhookBody(batch.createdAt, batch.events.join(',')),
      createdAt: batch.createdAt,
    });
    if (!this.handOverScheduled) {
      this.handOverScheduled = true;
      setImmediate(() => this.deliverClosed());
    }
  }

  private deliverClosed(): void {
    this.handOverScheduled = false;
    if (this.closed.length === 0) return;
    const batches = this.closed;
    this.closed = [];
    this.handOver(batches);
  }
}

/** Pusher's body, built by hand so the bytes are exactly its field order: time_ms first, then the events (joined JSON). */
function webhookBody(timeMs: number, events: string): string {
  return `{"time_ms":${timeMs},"events":[${events}]}`;
}

const EVENTS_START = '"events":[';

/**
 * A dead letter put back in its queue is a new delivery: its `time_ms`
 * (and retry budget) start again now, or receivers that refuse a time_ms
 * older than 5 minutes would refuse every replay. Id and events stay.
 */
export function replayed(batch: QueuedBatch, now: number = Date.now()): QueuedBatch {
  const at = batch.body.indexOf(EVENTS_START);
  if (at === -1 || !batch.body.endsWith(']}')) return { ...batch, createdAt: now };
  return { ...batch, createdAt: now, body: webhookBody(now, batch.body.slice(at + EVENTS_START.length, -2)) };
}
