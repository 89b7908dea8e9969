import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { decodeBatch, decodeDeadLetter, encodeBatch, encodeDeadLetter } from '../../src/webhooks/queues/codec.js';
import { LinkLog } from '../../src/webhooks/queues/link-log.js';
import { rabbitQueueNames } from '../../src/webhooks/queues/rabbitmq.js';
import { Wakeup } from '../../src/webhooks/queues/wakeup.js';
import { makeBatch } from './queue-harness.js';

/** The pure parts the durable queue drivers share. */
describe('webhook queue codec', () => {
  it('round-trips batches and dead letters', () => {
    const batch = makeBatch('https://hooks.test/a', 7);
    expect(decodeBatch(encodeBatch(batch))).toEqual(batch);
    const letter = { batch, reason: 'HTTP 500 for 300 s', failedAt: 1234 };
    expect(decodeDeadLetter(encodeDeadLetter(letter))).toEqual(letter);
  });

  it('keeps only the contract fields', () => {
    const extra = { ...makeBatch('e', 1), secret: 'x' };
    expect(Object.keys(JSON.parse(encodeBatch(extra)) as object).sort()).toEqual(['appId', 'body', 'createdAt', 'endpoint', 'id']);
  });

  it('refuses what it did not write', () => {
    for (const text of ['', 'nope', '[]', 'null', '{"id":1}', JSON.stringify({ ...makeBatch('e', 1), createdAt: 'now' })]) {
      expect(decodeBatch(text)).toBeNull();
    }
    expect(decodeDeadLetter(JSON.stringify({ batch: makeBatch('e', 1), reason: 5, failedAt: 1 }))).toBeNull();
    expect(decodeDeadLetter(JSON.stringify({ batch: {}, reason: 'r', failedAt: 1 }))).toBeNull();
  });
});

describe('Wakeup', () => {
  it('ends a wait at the first ring, and keeps a ring that came while nobody waited', async () => {
    const wakeup = new Wakeup();
    const started = Date.now();
    const waiting = wakeup.wait(10_000);
    wakeup.ring();
    await waiting;
    wakeup.ring();
    await wakeup.wait(10_000);
    expect(Date.now() - started).toBeLessThan(1000);
    // The kept ring was used up: the next wait runs its time.
    const t = Date.now();
    await wakeup.wait(50);
    expect(Date.now() - t).toBeGreaterThanOrEqual(40);
  });
});

describe('LinkLog', () => {
  it('logs a failing link once per interval, and its return once, only after a failure', () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) });
    const log = new LinkLog(pino({ level: 'info' }, sink), 'redis', 'redis://127.0.0.1:1');
    log.back();
    for (let i = 0; i < 5; i++) log.failed(new Error('ECONNREFUSED'));
    log.back();
    log.back();
    expect(lines.map((l) => [l.level, l.msg, l.err])).toEqual([
      [40, 'webhook queue: redis unavailable, retrying', 'ECONNREFUSED'],
      [30, 'webhook queue: redis connection back', undefined],
    ]);
  });
});

describe('rabbitQueueNames', () => {
  it('names queues under the prefix, one per endpoint, stable and short', () => {
    const names = rabbitQueueNames('sb');
    expect(names.dead).toBe('sb.webhooks.dead');
    expect(names.endpoint('https://a.test/hook')).toMatch(/^sb\.webhooks\.q\.[0-9a-f]{32}$/);
    expect(names.endpoint('https://a.test/hook')).toBe(names.endpoint('https://a.test/hook'));
    expect(names.endpoint('https://a.test/hook')).not.toBe(names.endpoint('https://b.test/hook'));
  });
});

describe('createRedisQueue', () => {
  it('refuses URLs it cannot serve before connecting anywhere', async () => {
    const { createRedisQueue } = await import('../../src/webhooks/queues/redis.js');
    const { silent } = await import('./queue-harness.js');
    for (const url of ['redis-cluster://127.0.0.1:7000', 'redis-sentinel://127.0.0.1:26379/m', 'redis://a:6379,redis://b:6379', 'http://x']) {
      expect(() => createRedisQueue({ url, keyPrefix: 'x', logger: silent })).toThrow(/unsupported URL/);
    }
  });
});
