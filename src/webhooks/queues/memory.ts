import { countLimitTrip, metrics } from '../../metrics/index.js';
import type { Logger } from '../../util/logger.js';
import { LogLimiter } from '../log-limiter.js';
import type { DeadLetter, QueuedBatch, WebhookQueue } from '../types.js';
import { replayed } from '../batcher.js';

/** Milliseconds before a batch whose delivery rejected (the pipeline stopping) is offered again. */
const REDELIVER_AFTER_MS = 1000;

interface Lane {
  readonly items: QueuedBatch[];
  inFlight: boolean;
  consumed: boolean;
}

/**
 * The in-process queue: one FIFO per endpoint, one batch in flight per
 * endpoint, at most `maxBatches` waiting or in flight in total. It does not
 * survive a restart: batches still queued when the process stops are lost
 * (use the redis or rabbitmq driver where that matters). Dead letters are
 * kept in memory too, the newest `maxBatches`.
 */
export class MemoryQueue implements WebhookQueue {
  readonly kind = 'memory' as const;
  private readonly lanes = new Map<string, Lane>();
  private readonly dead: DeadLetter[] = [];
  private total = 0;
  private deliver: ((batch: QueuedBatch) => Promise<void>) | undefined;
  private closed = false;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly warnings = new LogLimiter(10_000);

  constructor(
    private readonly maxBatches: number,
    private readonly logger: Logger,
    private readonly maxDead: number = maxBatches,
  ) {}

  async enqueue(batch: QueuedBatch): Promise<void> {
    if (this.closed) throw new Error('webhook queue is closed');
    if (this.total >= this.maxBatches) {
      countLimitTrip('webhookMemoryQueueMax');
      metrics.webhookDeadLettered.inc({ reason: 'queue_full' });
      this.warnings.maybe('full', (suppressed) =>
        this.logger.warn(
          { limit: 'webhookMemoryQueueMax', max: this.maxBatches, droppedSinceLast: suppressed },
          'webhook memory queue full: new batch dead-lettered',
        ),
      );
      await this.deadLetter(batch, 'queue full');
      return;
    }
    const lane = this.lane(batch.endpoint);
    lane.items.push(batch);
    this.total++;
    this.pump(batch.endpoint, lane);
  }

  async start(endpoints: readonly string[], deliver: (batch: QueuedBatch) => Promise<void>): Promise<void> {
    this.deliver = deliver;
    for (const key of endpoints) {
      const lane = this.lane(key);
      lane.consumed = true;
      this.pump(key, lane);
    }
  }

  async deadLetter(batch: QueuedBatch, reason: string): Promise<void> {
    this.dead.push({ batch, reason, failedAt: Date.now() });
    // Bounded like the queue: the oldest dead letters go first.
    if (this.dead.length > this.maxDead) this.dead.splice(0, this.dead.length - this.maxDead);
  }

  async listDead(limit: number): Promise<DeadLetter[]> {
    return this.dead.slice(-Math.max(0, limit)).reverse();
  }

  async replay(ids?: readonly string[]): Promise<number> {
    const wanted = ids === undefined ? undefined : new Set(ids);
    const chosen: DeadLetter[] = [];
    for (let i = 0; i < this.dead.length; ) {
      const letter = this.dead[i] as DeadLetter;
      if (wanted === undefined || wanted.has(letter.batch.id)) {
        chosen.push(letter);
        this.dead.splice(i, 1);
      } else {
        i++;
      }
    }
    for (const letter of chosen) await this.enqueue(replayed(letter.batch));
    return chosen.length;
  }

  async depth(): Promise<number> {
    return this.total;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    if (this.total > 0) this.logger.warn({ lost: this.total }, 'webhook memory queue closed with batches not yet delivered: they are lost');
    this.lanes.clear();
    this.total = 0;
  }

  private lane(key: string): Lane {
    let lane = this.lanes.get(key);
    if (lane === undefined) {
      lane = { items: [], inFlight: false, consumed: false };
      this.lanes.set(key, lane);
    }
    return lane;
  }

  private pump(key: string, lane: Lane): void {
    const deliver = this.deliver;
    if (this.closed || deliver === undefined || !lane.consumed || lane.inFlight) return;
    const batch = lane.items[0];
    if (batch === undefined) return;
    lane.inFlight = true;
    deliver(batch).then(
      () => {
        if (this.closed) return;
        lane.items.shift();
        this.total--;
        lane.inFlight = false;
        this.pump(key, lane);
      },
      () => {
        // Not finished (the consumer stopped): it stays first in line, offered again later.
        if (this.closed) return;
        const timer = setTimeout(() => {
          this.retryTimers.delete(timer);
          lane.inFlight = false;
          this.pump(key, lane);
        }, REDELIVER_AFTER_MS);
        this.retryTimers.add(timer);
      },
    );
  }
}
