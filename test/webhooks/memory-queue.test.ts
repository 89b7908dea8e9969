import { afterEach, describe, expect, it } from 'vitest';
import { metrics, registry } from '../../src/metrics/index.js';
import { createWebhooks } from '../../src/webhooks/index.js';
import { MemoryQueue } from '../../src/webhooks/queues/memory.js';
import type { QueuedBatch } from '../../src/webhooks/types.js';
import { APP, appWith, eventually, occupied, Pipelines, testLogger, webhookConfig } from './helpers.js';

const pipelines = new Pipelines();
const queues: MemoryQueue[] = [];
afterEach(async () => {
  for (const q of queues.splice(0)) await q.close();
  await pipelines.dispose();
});

function batch(id: string, endpoint = 'app e1'): QueuedBatch {
  return { id, appId: 'app', endpoint, body: `{"time_ms":1,"events":[]}`, createdAt: 1 };
}

/** A consumer whose deliveries finish only when the test says so. */
class Consumer {
  readonly calls: string[] = [];
  private readonly pending = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  readonly deliver = (b: QueuedBatch): Promise<void> => {
    this.calls.push(b.id);
    return new Promise((resolve, reject) => this.pending.set(b.id, { resolve, reject }));
  };
  finish(id: string): void {
    this.pending.get(id)!.resolve();
  }
  fail(id: string): void {
    this.pending.get(id)!.reject(new Error('stopped'));
  }
}

function queue(max: number): MemoryQueue {
  const q = new MemoryQueue(max, testLogger);
  queues.push(q);
  return q;
}

const tick = () => new Promise((r) => setTimeout(r, 5));

async function limitTrips(): Promise<number> {
  const { values } = await metrics.limitTrips.get();
  return values.find((v) => v.labels.limit === 'webhookMemoryQueueMax')?.value ?? 0;
}

describe('memory webhook queue', () => {
  it('keeps each endpoint in order with one batch in flight, endpoints independent', async () => {
    const q = queue(100);
    const c = new Consumer();
    await q.start(['app e1', 'app e2'], c.deliver);
    await q.enqueue(batch('a1'));
    await q.enqueue(batch('a2'));
    await q.enqueue(batch('b1', 'app e2'));
    await tick();
    expect(c.calls).toEqual(['a1', 'b1']);
    expect(await q.depth()).toBe(3);
    c.finish('a1');
    await tick();
    expect(c.calls).toEqual(['a1', 'b1', 'a2']);
    expect(await q.depth()).toBe(2);
  });

  it('offers a batch again, first in line, when its delivery rejects', async () => {
    const q = queue(100);
    const c = new Consumer();
    await q.start(['app e1'], c.deliver);
    await q.enqueue(batch('a1'));
    await q.enqueue(batch('a2'));
    await tick();
    c.fail('a1');
    await eventually(() => c.calls.length === 2, 3000, 'the redelivery');
    expect(c.calls).toEqual(['a1', 'a1']);
  });

  it('is bounded by webhookMemoryQueueMax in total: beyond it new batches are dead-lettered and the limit trip counted', async () => {
    const q = queue(3);
    const c = new Consumer();
    await q.start(['app e1', 'app e2'], c.deliver);
    const trips = await limitTrips();
    for (const id of ['a1', 'a2']) await q.enqueue(batch(id));
    await q.enqueue(batch('b1', 'app e2'));
    await q.enqueue(batch('b2', 'app e2'));
    await q.enqueue(batch('a3'));
    expect(await q.depth()).toBe(3);
    expect((await limitTrips()) - trips).toBe(2);
    const dead = await q.listDead(10);
    expect(dead.map((d) => [d.batch.id, d.reason])).toEqual([
      ['a3', 'queue full'],
      ['b2', 'queue full'],
    ]);
    // Room again once one is delivered.
    c.finish('a1');
    await tick();
    await q.enqueue(batch('a4'));
    expect(await q.depth()).toBe(3);
  });

  it('replays dead letters at the end of their endpoint queue, by id or all', async () => {
    const q = queue(100);
    const c = new Consumer();
    await q.start(['app e1'], c.deliver);
    await q.deadLetter(batch('x1'), 'refused: HTTP 400');
    await q.deadLetter(batch('x2'), 'refused: HTTP 400');
    await q.enqueue(batch('a1'));
    expect(await q.replay(['x2', 'unknown'])).toBe(1);
    expect((await q.listDead(10)).map((d) => d.batch.id)).toEqual(['x1']);
    await tick();
    c.finish('a1');
    await tick();
    expect(c.calls).toEqual(['a1', 'x2']);
    expect(await q.replay()).toBe(1);
    expect(await q.listDead(10)).toEqual([]);
    c.finish('x2');
    await tick();
    expect(c.calls).toEqual(['a1', 'x2', 'x1']);
  });

  it('keeps a bounded number of dead letters, dropping the oldest', async () => {
    const q = new MemoryQueue(100, testLogger, 2);
    queues.push(q);
    for (const id of ['d1', 'd2', 'd3']) await q.deadLetter(batch(id), 'x');
    expect((await q.listDead(10)).map((d) => d.batch.id)).toEqual(['d3', 'd2']);
    expect((await q.listDead(1)).map((d) => d.batch.id)).toEqual(['d3']);
  });

  it('stop() puts open batches into the queue before closing it', async () => {
    class RecordingQueue extends MemoryQueue {
      readonly enqueued: QueuedBatch[] = [];
      override async enqueue(b: QueuedBatch): Promise<void> {
        this.enqueued.push(b);
        return super.enqueue(b);
      }
    }
    const q = new RecordingQueue(100, testLogger);
    const config = webhookConfig({ webhookBatchMs: 60_000, apps: [appWith([{ url: 'http://127.0.0.1:9/never', eventTypes: ['channel_occupied'] }])] });
    const webhooks = createWebhooks(config, testLogger, { queue: q });
    await webhooks.start();
    webhooks.emit(APP.id, occupied('open-1'));
    webhooks.emit(APP.id, occupied('open-2'));
    await tick();
    expect(q.enqueued).toHaveLength(0);
    await webhooks.stop();
    expect(q.enqueued.map((b) => JSON.parse(b.body).events.map((e: { channel: string }) => e.channel))).toEqual([['open-1', 'open-2']]);
  });

  it('bounds the pipeline too, and reports the depth on scrape', async () => {
    const receiver = await pipelines.receiver();
    receiver.handler = () => {
      // Never answers: the first batch stays in flight.
    };
    const webhooks = await pipelines.start(
      webhookConfig({
        webhookBatchSize: 1,
        webhookAttemptTimeout: 10,
        webhookMemoryQueueMax: 2,
        apps: [appWith([{ url: receiver.url(), eventTypes: ['channel_occupied'] }])],
      }),
    );
    for (let i = 0; i < 4; i++) webhooks.emit(APP.id, occupied(`c${i}`));
    const dead = await eventually(
      async () => {
        const d = await webhooks.listDead(10);
        return d.length === 2 ? d : undefined;
      },
      3000,
      'two dead letters',
    );
    expect(dead.map((d) => d.reason)).toEqual(['queue full', 'queue full']);
    expect(dead.map((d) => JSON.parse(d.batch.body).events[0].channel)).toEqual(['c3', 'c2']);
    expect(await registry.getSingleMetricAsString('switchboard_webhook_queue_depth')).toMatch(/^switchboard_webhook_queue_depth 2$/m);
  });
});
