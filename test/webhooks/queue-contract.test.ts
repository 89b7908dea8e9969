import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { QueuedBatch, WebhookQueue } from '../../src/webhooks/types.js';
import { DeliveryRecorder, eventually, makeBatch, range, sleep } from './queue-harness.js';
import { memoryDriver, redisDriver, rabbitDriver, type DriverSetup, type Namespace, type QueueDriver } from './queue-drivers.js';

/**
 * One contract, every webhook queue driver: the same cases run against each
 * through a table of factories. Redis runs on a redis-server of its own
 * (free port); RabbitMQ on the machine's broker (or SWITCHBOARD_TEST_AMQP_URL),
 * each test in a namespace (key prefix) of its own that it removes after.
 */
const drivers: QueueDriver[] = [
  redisDriver(),
  await rabbitDriver(),
  // One process: the two-node cases skip themselves.
  memoryDriver(),
];

describe.each(drivers.map((d) => [d.name, d] as const))('webhook queue contract: %s', (_name, driver) => {
  let setup: DriverSetup | null = null;
  let ns: Namespace | undefined;
  const opened: WebhookQueue[] = [];

  beforeAll(async () => {
    if (driver.available) setup = await driver.setup();
  });
  afterAll(async () => {
    await setup?.stop();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((q) => q.close()));
    await ns?.cleanup();
    ns = undefined;
  });

  const open = (): WebhookQueue => {
    const queue = ns!.open();
    opened.push(queue);
    return queue;
  };
  /** A namespace of its own for the test; returns it. */
  const fresh = (): Namespace => {
    ns = setup!.namespace();
    return ns;
  };
  const enqueueAll = async (queue: WebhookQueue, endpoint: string, seqs: number[]): Promise<void> => {
    for (const seq of seqs) await queue.enqueue(makeBatch(endpoint, seq));
  };

  describe.skipIf(!driver.available)('', () => {
    it('delivers each endpoint in order, one at a time, endpoints concurrently', async () => {
      const ns = fresh();
      const queue = open();
      const endpoints = ['a', 'b', 'c'].map((n) => ns.endpoint(n));
      for (const endpoint of endpoints) await enqueueAll(queue, endpoint, range(6));
      const recorder = new DeliveryRecorder();
      await queue.start(endpoints, recorder.deliver(30));
      await eventually(() => recorder.count() === 18, 15_000);
      for (const endpoint of endpoints) expect(recorder.completed.get(endpoint)).toEqual(range(6));
      expect(recorder.maxPerEndpoint).toBe(1);
      expect(recorder.maxOverall).toBeGreaterThanOrEqual(2);
      await eventually(async () => (await queue.depth()) === 0);
    });

    it('delivers batches enqueued after start, from any instance, without polling delays', async () => {
      const ns = fresh();
      const consumer = open();
      const producer = driver.shared ? open() : consumer;
      const endpoint = ns.endpoint('late');
      const recorder = new DeliveryRecorder();
      await consumer.start([endpoint], recorder.deliver(0));
      await sleep(300);
      const started = Date.now();
      await producer.enqueue(makeBatch(endpoint, 1));
      await eventually(() => recorder.count() === 1, 10_000, 5);
      // The doorbell (Redis) or the broker push (RabbitMQ) wakes the consumer: well under the idle recheck.
      expect(Date.now() - started).toBeLessThan(1500);
      await enqueueAll(producer, endpoint, [2, 3]);
      await eventually(() => recorder.count() === 3);
      expect(recorder.completed.get(endpoint)).toEqual([1, 2, 3]);
    });

    it('delivers a batch again after deliver rejects, holding back the later ones of its endpoint', { timeout: 30_000 }, async () => {
      const ns = fresh();
      const queue = open();
      const [failing, other] = [ns.endpoint('failing'), ns.endpoint('other')];
      await enqueueAll(queue, failing, [1, 2, 3]);
      await enqueueAll(queue, other, [1, 2]);
      const recorder = new DeliveryRecorder();
      const order: string[] = [];
      await queue.start(
        [failing, other],
        recorder.deliver(
          0,
          (batch, attempt) => batch.id === `${failing}#1` && attempt <= 2,
          (b) => void order.push(b.id),
        ),
      );
      await eventually(() => recorder.count() === 5, 15_000);
      expect(recorder.completed.get(failing)).toEqual([1, 2, 3]);
      expect(recorder.completed.get(other)).toEqual([1, 2]);
      expect(recorder.attempts.get(`${failing}#1`)).toBe(3);
      // Batch 2 was not tried before batch 1 got through.
      expect(order.filter((id) => id.startsWith(failing))).toEqual([`${failing}#1`, `${failing}#1`, `${failing}#1`, `${failing}#2`, `${failing}#3`]);
    });

    it('dead-letters, lists newest first, and replays all or by id', async () => {
      const ns = fresh();
      const queue = open();
      const endpoint = ns.endpoint('dead');
      const recorder = new DeliveryRecorder();
      let giveUp = true;
      await queue.start(
        [endpoint],
        recorder.deliver(
          0,
          () => false,
          async (batch) => {
            if (giveUp && batch.id !== `${endpoint}#3`) await queue.deadLetter(batch, `gave up on ${batch.id}`);
          },
        ),
      );
      await enqueueAll(queue, endpoint, [1, 2, 3]);
      await eventually(() => recorder.count() === 3);
      const dead = await queue.listDead(10);
      expect(dead.map((d) => d.batch.id)).toEqual([`${endpoint}#2`, `${endpoint}#1`]);
      expect(dead[0]!.reason).toBe(`gave up on ${endpoint}#2`);
      expect(dead[0]!.batch).toEqual(makeBatchLike(dead[0]!.batch, endpoint, 2));
      expect(dead[0]!.failedAt).toBeGreaterThan(Date.now() - 60_000);
      expect((await queue.listDead(1)).map((d) => d.batch.id)).toEqual([`${endpoint}#2`]);

      giveUp = false;
      expect(await queue.replay([`${endpoint}#1`, 'no-such-id'])).toBe(1);
      await eventually(() => recorder.count() === 4);
      expect((await queue.listDead(10)).map((d) => d.batch.id)).toEqual([`${endpoint}#2`]);
      expect(await queue.replay()).toBe(1);
      await eventually(() => recorder.count() === 5);
      expect(await queue.listDead(10)).toEqual([]);
      expect(recorder.completed.get(endpoint)).toEqual([1, 2, 3, 1, 2]);
    });

    it('counts waiting and in-flight batches in depth', async () => {
      const ns = fresh();
      const queue = open();
      const [a, b] = [ns.endpoint('depth-a'), ns.endpoint('depth-b')];
      expect(await queue.depth()).toBe(0);
      await enqueueAll(queue, a, [1, 2, 3]);
      await enqueueAll(queue, b, [1, 2]);
      await eventually(async () => (await queue.depth()) === 5);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const recorder = new DeliveryRecorder();
      await queue.start(
        [a, b],
        recorder.deliver(
          0,
          () => false,
          () => gate,
        ),
      );
      await eventually(() => recorder.attempts.size === 2);
      // Two in flight (one per endpoint), three waiting.
      expect(await queue.depth()).toBe(5);
      release();
      await eventually(() => recorder.count() === 5);
      await eventually(async () => (await queue.depth()) === 0);
    });

    it.skipIf(!driver.shared)('two nodes never deliver one endpoint concurrently, and deliver every batch', { timeout: 40_000 }, async () => {
      const ns = fresh();
      const [node1, node2] = [open(), open()];
      const endpoints = ['x', 'y', 'z', 'w'].map((n) => ns.endpoint(n));
      const recorder = new DeliveryRecorder();
      const deliver = recorder.deliver(15);
      await node1.start(endpoints, deliver);
      await node2.start(endpoints, deliver);
      const perEndpoint = 8;
      // Both nodes enqueue, interleaved; each endpoint's batches come from one node so their order is defined.
      await Promise.all(endpoints.map((endpoint, i) => enqueueAll(i % 2 === 0 ? node1 : node2, endpoint, range(perEndpoint))));
      await eventually(() => endpoints.every((e) => recorder.distinct(e).length === perEndpoint), 20_000);
      for (const endpoint of endpoints) expect(recorder.distinct(endpoint)).toEqual(range(perEndpoint));
      expect(recorder.maxPerEndpoint).toBe(1);
      // No node died and no lease ran out: nothing is delivered twice.
      expect(recorder.duplicates()).toBe(0);
    });

    it.skipIf(!driver.shared)('a node that closes hands its endpoints to the other', { timeout: 40_000 }, async () => {
      const ns = fresh();
      const [node1, node2] = [open(), open()];
      const endpoint = ns.endpoint('handover');
      const recorder = new DeliveryRecorder();
      await node1.start([endpoint], recorder.deliver(5));
      await sleep(200);
      await node2.start([endpoint], recorder.deliver(5));
      await enqueueAll(node2, endpoint, range(3));
      await eventually(() => recorder.count() === 3);
      await node1.close();
      const closedAt = Date.now();
      await enqueueAll(node2, endpoint, [4, 5]);
      await eventually(() => recorder.count() === 5, 20_000);
      expect(recorder.completed.get(endpoint)).toEqual(range(5));
      expect(Date.now() - closedAt).toBeLessThan(driver.handoverMs);
    });
  });
});

/** The batch as enqueued (its createdAt and body are whatever makeBatch made then). */
function makeBatchLike(batch: QueuedBatch, endpoint: string, seq: number): QueuedBatch {
  const made = makeBatch(endpoint, seq);
  return { ...made, createdAt: batch.createdAt, body: batch.body };
}
