import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import type { QueuedBatch } from '../../src/webhooks/types.js';

/** What the queue tests share: batches that say their place, a recorder of deliveries, polling. */

export const silent = pino({ level: process.env.SWITCHBOARD_TEST_LOG_LEVEL ?? 'silent' });

/** A prefix no other run (or other agent on this machine) uses. */
export function uniquePrefix(what: string): string {
  return `sbtest-${what}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

/** Batch `seq` of `endpoint`: its id and body carry both, so order can be read off deliveries. */
export function makeBatch(endpoint: string, seq: number): QueuedBatch {
  const createdAt = Date.now();
  return {
    id: `${endpoint}#${seq}`,
    appId: 'app-1',
    endpoint,
    body: JSON.stringify({ time_ms: createdAt, events: [{ name: 'channel_occupied', channel: `seq-${seq}` }] }),
    createdAt,
  };
}

function seqOf(batch: QueuedBatch): number {
  return Number(batch.id.slice(batch.id.lastIndexOf('#') + 1));
}

/**
 * Records deliveries from any number of queue instances (nodes) in this
 * process: per endpoint the order of completed deliveries, how many were in
 * flight at once (per endpoint and overall), and duplicates.
 */
export class DeliveryRecorder {
  readonly completed = new Map<string, number[]>();
  readonly attempts = new Map<string, number>();
  private readonly inFlight = new Map<string, number>();
  maxPerEndpoint = 0;
  maxOverall = 0;
  private overall = 0;

  /** A deliver callback that takes `delayMs`, and rejects whenever `fail` says so (before counting it done). */
  deliver(delayMs: number, fail: (batch: QueuedBatch, attempt: number) => boolean = () => false, onStart?: (batch: QueuedBatch) => void | Promise<void>) {
    return async (batch: QueuedBatch): Promise<void> => {
      const attempt = (this.attempts.get(batch.id) ?? 0) + 1;
      this.attempts.set(batch.id, attempt);
      const now = (this.inFlight.get(batch.endpoint) ?? 0) + 1;
      this.inFlight.set(batch.endpoint, now);
      this.overall++;
      this.maxPerEndpoint = Math.max(this.maxPerEndpoint, now);
      this.maxOverall = Math.max(this.maxOverall, this.overall);
      try {
        await onStart?.(batch);
        if (delayMs > 0) await sleep(delayMs);
        if (fail(batch, attempt)) throw new Error(`refused ${batch.id} (attempt ${attempt})`);
        const list = this.completed.get(batch.endpoint) ?? [];
        list.push(seqOf(batch));
        this.completed.set(batch.endpoint, list);
      } finally {
        this.inFlight.set(batch.endpoint, (this.inFlight.get(batch.endpoint) ?? 1) - 1);
        this.overall--;
      }
    };
  }

  count(): number {
    let n = 0;
    for (const list of this.completed.values()) n += list.length;
    return n;
  }

  /** Completed deliveries of `endpoint` with repeats removed, in first-delivery order. */
  distinct(endpoint: string): number[] {
    return [...new Set(this.completed.get(endpoint) ?? [])];
  }

  duplicates(): number {
    let n = 0;
    for (const list of this.completed.values()) n += list.length - new Set(list).size;
    return n;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Poll until `check` passes (returns truthy or stops throwing), or fail with its last error. */
export async function eventually<T>(check: () => T | Promise<T>, ms = 10_000, stepMs = 25): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown = new Error('never checked');
  for (;;) {
    try {
      const value = await check();
      if (value !== false) return value;
      last = new Error('condition false');
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw last;
    await sleep(stepMs);
  }
}

/** `1..n` */
export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);
