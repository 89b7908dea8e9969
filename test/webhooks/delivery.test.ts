import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { metrics } from '../../src/metrics/index.js';
import { APP, appWith, eventually, occupied, Pipelines, validBySdk, webhookConfig } from './helpers.js';

const pipelines = new Pipelines();
afterEach(() => pipelines.dispose());

async function counter(
  c: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, unknown> }> }> },
  labels: Record<string, string> = {},
): Promise<number> {
  const { values } = await c.get();
  return values.filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want)).reduce((sum, v) => sum + v.value, 0);
}

const channels = (requests: Array<{ body: { events: Array<{ channel: string }> } }>) => requests.map((r) => r.body.events.map((e) => e.channel).join(','));

describe('webhook delivery and retries', () => {
  it('retries 5xx with the same id and time_ms, then delivers everything in order', async () => {
    const receiver = await pipelines.receiver();
    receiver.handler = (_req, res, _r, i) => {
      res.statusCode = i < 4 ? 500 : 200;
      res.end();
    };
    const retriesBefore = await counter(metrics.webhookRetries);
    const failuresBefore = await counter(metrics.webhookAttemptFailures, { reason: '5xx' });
    const webhooks = await pipelines.start(
      webhookConfig({ webhookBatchSize: 1, apps: [appWith([{ url: receiver.url(), eventTypes: ['channel_occupied'] }])] }),
    );
    for (let i = 0; i < 4; i++) webhooks.emit(APP.id, occupied(`c${i}`));
    const requests = await receiver.waitFor(8);
    // The first batch took the five attempts; nothing overtook it.
    expect(channels(requests)).toEqual(['c0', 'c0', 'c0', 'c0', 'c0', 'c1', 'c2', 'c3']);
    const first = requests.slice(0, 5);
    expect(new Set(first.map((r) => r.headers['x-switchboard-webhook-id'])).size).toBe(1);
    expect(new Set(first.map((r) => r.rawBody)).size).toBe(1);
    expect(new Set(requests.map((r) => r.headers['x-switchboard-webhook-id'])).size).toBe(4);
    for (const r of requests) expect(validBySdk(r)).toBe(true);
    expect((await counter(metrics.webhookRetries)) - retriesBefore).toBe(4);
    expect((await counter(metrics.webhookAttemptFailures, { reason: '5xx' })) - failuresBefore).toBe(4);
    expect(await webhooks.listDead(10)).toEqual([]);
  });

  it('waits as long as a 429 Retry-After asks', async () => {
    const receiver = await pipelines.receiver();
    receiver.handler = (_req, res, _r, i) => {
      if (i === 0) {
        res.writeHead(429, { 'retry-after': '1' });
        res.end();
      } else res.end();
    };
    const webhooks = await pipelines.start(
      webhookConfig({ webhookBatchSize: 1, apps: [appWith([{ url: receiver.url(), eventTypes: ['channel_occupied'] }])] }),
    );
    webhooks.emit(APP.id, occupied('a'));
    const [first, second] = await receiver.waitFor(2);
    // The backoff alone would retry within 100 ms (webhookRetryMaxMs).
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
    expect(second!.headers['x-switchboard-webhook-id']).toBe(first!.headers['x-switchboard-webhook-id']);
  });

  it('does not wait for a Retry-After beyond the retry budget: the batch is dead-lettered at once', async () => {
    const receiver = await pipelines.receiver();
    receiver.handler = (_req, res) => {
      res.writeHead(503, { 'retry-after': '60' });
      res.end();
    };
    const webhooks = await pipelines.start(
      webhookConfig({ webhookBatchSize: 1, webhookRetryFor: 5, apps: [appWith([{ url: receiver.url(), eventTypes: ['channel_occupied'] }])] }),
    );
    const t0 = Date.now();
    webhooks.emit(APP.id, occupied('later'));
    const [dead] = await eventually(
      async () => {
        const d = await webhooks.listDead(10);
        return d.length > 0 ? d : undefined;
      },
      3000,
      'a dead letter',
    );
    expect(dead!.reason).toContain('exhausted');
    expect(receiver.requests).toHaveLength(1);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('dead-letters a 4xx at once, without retrying, and goes on with the next batch', async () => {
    const receiver = await pipelines.receiver();
    receiver.handler = (_req, res, _r, i) => {
      res.statusCode = i === 0 ? 400 : 200;
      res.end('{"error":"no"}');
    };
    const webhooks = await pipelines.start(
      webhookConfig({ webhookBatchSize: 1, apps: [appWith([{ url: receiver.url(), eventTypes: ['channel_occupied'] }])] }),
    );
    webhooks.emit(APP.id, occupied('refused'));
    webhooks.emit(APP.id, occupied('next'));
    const requests = await receiver.waitFor(2);
    expect(channels(requests)).toEqual(['refused', 'next']);
    const dead = await webhooks.listDead(10);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.reason).toBe('refused: HTTP 400');
    expect(dead[0]!.batch.id).toBe(requests[0]!.headers['x-switchboard-webhook-id']);
    expect(dead[0]!.batch.body).toBe(requests[0]!.rawBody);
  });

  it('ends in a dead letter when the retry budget runs out', async () => {
    const receiver = await pipelines.receiver();
    receiver.handler = (_req, res) => {
      res.statusCode = 503;
      res.end();
    };
    const before = await counter(metrics.webhookDeadLettered, { reason: 'expired' });
    const webhooks = await pipelines.start(
      webhookConfig({ webhookBatchSize: 1, webhookRetryFor: 0.5, apps: [appWith([{ url: receiver.url(), eventTypes: ['channel_occupied'] }])] }),
    );
    const t0 = Date.now();
    webhooks.emit(APP.id, occupied('doomed'));
    const [dead] = await eventually(
      async () => {
        const d = await webhooks.listDead(10);
        return d.length > 0 ? d : undefined;
      },
      5000,
      'a dead letter',
    );
    expect(dead!.reason).toMatch(/^retry budget of 0.5 s exhausted \(last: HTTP 503\)$/);
    // Retried within the budget, and not much longer than it.
    expect(receiver.requests.length).toBeGreaterThan(2);
    expect(Date.now() - t0).toBeLessThan(1500);
    for (const r of receiver.requests) expect(r.body.time_ms).toBe(dead!.batch.createdAt);
    expect((await counter(metrics.webhookDeadLettered, { reason: 'expired' })) - before).toBe(1);
  });

  it('retries an unreachable host (a closed loopback port) as a network failure, then dead-letters', async () => {
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    probe.close();
    await once(probe, 'close');
    const before = await counter(metrics.webhookAttemptFailures, { reason: 'network' });
    const webhooks = await pipelines.start(
      webhookConfig({
        webhookBatchSize: 1,
        webhookRetryFor: 0.4,
        apps: [appWith([{ url: `http://127.0.0.1:${port}/hook`, eventTypes: ['channel_occupied'] }])],
      }),
    );
    webhooks.emit(APP.id, occupied('nowhere'));
    const [dead] = await eventually(
      async () => {
        const d = await webhooks.listDead(10);
        return d.length > 0 ? d : undefined;
      },
      5000,
      'a dead letter',
    );
    expect(dead!.reason).toContain('ECONNREFUSED');
    expect((await counter(metrics.webhookAttemptFailures, { reason: 'network' })) - before).toBeGreaterThan(1);
  });

  it('gives up on an attempt the receiver never answers after webhookAttemptTimeout', async () => {
    const receiver = await pipelines.receiver();
    receiver.handler = (_req, res, _r, i) => {
      if (i > 0) res.end();
      // The first request is never answered.
    };
    const before = await counter(metrics.webhookAttemptFailures, { reason: 'timeout' });
    const webhooks = await pipelines.start(
      webhookConfig({ webhookBatchSize: 1, webhookAttemptTimeout: 0.3, apps: [appWith([{ url: receiver.url(), eventTypes: ['channel_occupied'] }])] }),
    );
    webhooks.emit(APP.id, occupied('slow'));
    const [first, second] = await receiver.waitFor(2);
    const waited = second!.at - first!.at;
    // The deadline starts before the request leaves, so the receiver sees a little less than 300 ms;
    // without it there would be no second request at all (the first is never answered).
    expect(waited).toBeGreaterThanOrEqual(240);
    expect(waited).toBeLessThan(1000);
    expect(second!.headers['x-switchboard-webhook-id']).toBe(first!.headers['x-switchboard-webhook-id']);
    expect((await counter(metrics.webhookAttemptFailures, { reason: 'timeout' })) - before).toBe(1);
  });

  it('reads only a few KB of a receiver that trickles 10 MB back: the slot is free at once', async () => {
    const receiver = await pipelines.receiver();
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let sentBeforeClose = -1;
    let closedAfterMs = -1;
    receiver.handler = (_req, res, received, i) => {
      if (i > 0) return void res.end();
      res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) });
      let sent = 0;
      const timer = setInterval(() => {
        if (sent >= 10 * 1024 * 1024) return clearInterval(timer);
        res.write(chunk);
        sent += chunk.length;
      }, 20);
      res.on('close', () => {
        clearInterval(timer);
        sentBeforeClose = sent;
        closedAfterMs = Date.now() - received.at;
      });
    };
    const webhooks = await pipelines.start(
      webhookConfig({ webhookBatchSize: 1, webhookAttemptTimeout: 5, apps: [appWith([{ url: receiver.url(), eventTypes: ['channel_occupied'] }])] }),
    );
    webhooks.emit(APP.id, occupied('trickle'));
    webhooks.emit(APP.id, occupied('after'));
    const requests = await receiver.waitFor(2);
    // Delivered (2xx) once, not retried; the next batch went out long before the 10 MB or the 5 s timeout.
    expect(channels(requests)).toEqual(['trickle', 'after']);
    expect(requests[1]!.at - requests[0]!.at).toBeLessThan(1000);
    await eventually(() => closedAfterMs >= 0, 3000, 'the trickling response to be cut');
    expect(closedAfterMs).toBeLessThan(1000);
    expect(sentBeforeClose).toBeLessThan(1024 * 1024);
    expect(await webhooks.listDead(10)).toEqual([]);
  });

  it('opens the circuit after repeated failures, waits for the half-open probe, and recovers in order', async () => {
    const receiver = await pipelines.receiver();
    receiver.handler = (_req, res, _r, i) => {
      res.statusCode = i < 4 ? 500 : 200;
      res.end();
    };
    const opensBefore = await counter(metrics.webhookCircuitOpens);
    const webhooks = await pipelines.start(
      webhookConfig({
        webhookBatchSize: 1,
        webhookCircuitFailures: 3,
        webhookCircuitHalfOpen: 0.5,
        webhookRetryBaseMs: 10,
        webhookRetryMaxMs: 20,
        apps: [appWith([{ url: receiver.url(), eventTypes: ['channel_occupied'] }])],
      }),
    );
    for (let i = 0; i < 3; i++) webhooks.emit(APP.id, occupied(`c${i}`));
    const requests = await receiver.waitFor(7);
    const gaps = requests.slice(1).map((r, i) => r.at - requests[i]!.at);
    // Three quick failures open it; the probe comes only after the half-open delay and fails;
    // the next probe succeeds and closes it, and the rest flow without waiting.
    expect(gaps[0]).toBeLessThan(300);
    expect(gaps[1]).toBeLessThan(300);
    expect(gaps[2]).toBeGreaterThanOrEqual(450);
    expect(gaps[3]).toBeGreaterThanOrEqual(450);
    expect(gaps[4]).toBeLessThan(300);
    expect(gaps[5]).toBeLessThan(300);
    expect(channels(requests)).toEqual(['c0', 'c0', 'c0', 'c0', 'c0', 'c1', 'c2']);
    expect((await counter(metrics.webhookCircuitOpens)) - opensBefore).toBe(2);
    expect(await webhooks.listDead(10)).toEqual([]);
  });
});
