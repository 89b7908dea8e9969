import Pusher from 'pusher';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { metrics } from '../../src/metrics/index.js';
import { startNode, type RunningNode } from '../../src/node.js';
import { signApiRequest } from '../../src/protocol/signatures.js';
import { BrokerProcess, REDIS_BINARY, serviceAvailable } from '../cluster/services.js';
import { capturingLogger } from './db.js';

const APP = { id: 'rl-app', key: 'rl-key', secret: 'rl-secret', maxBackendEventsPerSecond: 5, maxReadRequestsPerSecond: 3 };
const redisOk = serviceAvailable(REDIS_BINARY, 'redis-server');

async function trips(limit: string): Promise<number> {
  return (await metrics.limitTrips.get()).values.find((v) => v.labels.limit === limit)?.value ?? 0;
}

function sdk(node: RunningNode): Pusher {
  return new Pusher({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1', port: String(node.port), useTLS: false });
}

/** Status and Retry-After of each call; rejections of the SDK carry the status too. */
async function statuses(
  calls: Array<() => Promise<{ status: number; headers: { get(n: string): string | null } }>>,
): Promise<Array<{ status: number; retryAfter: string | null }>> {
  return Promise.all(
    calls.map((call) =>
      call().then(
        (res) => ({ status: res.status, retryAfter: res.headers.get('retry-after') }),
        (err: { status?: number; headers?: { get(n: string): string | null } }) => ({
          status: err.status ?? 0,
          retryAfter: err.headers?.get('retry-after') ?? null,
        }),
      ),
    ),
  );
}

/** A trigger through fetch, to see the response headers. */
function rawTrigger(node: RunningNode, i: number): Promise<Response> {
  const body = JSON.stringify({ name: 'ev', channel: 'ch', data: String(i) });
  const path = `/apps/${APP.id}/events`;
  const query = signApiRequest('POST', path, {}, body, APP, Date.now() / 1000);
  return fetch(`http://127.0.0.1:${node.port}${path}?${query}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
}

async function start(overrides: Partial<ConfigInput>, logger = capturingLogger('silent').logger): Promise<RunningNode> {
  return startNode(Object.freeze(configSchema.parse({ host: '127.0.0.1', port: 0, logLevel: 'silent', apps: [APP], ...overrides })), logger);
}

describe('per-app HTTP API rate limits on one node', () => {
  let node: RunningNode;
  const { logger, lines } = capturingLogger('info');
  beforeAll(async () => {
    node = await start({}, logger);
  });
  afterAll(() => node.stop({ drainSeconds: 0 }));
  afterEach(() => new Promise((r) => setTimeout(r, 1100)));

  it('backend events over maxBackendEventsPerSecond get 429 with Retry-After, a metric and a log line', async () => {
    const before = await trips('maxBackendEventsPerSecond');
    const results = await statuses(Array.from({ length: 10 }, (_, i) => () => rawTrigger(node, i)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(5);
    const refused = results.filter((r) => r.status === 429);
    expect(refused).toHaveLength(5);
    expect(refused.every((r) => r.retryAfter === '1')).toBe(true);
    expect((await trips('maxBackendEventsPerSecond')) - before).toBe(5);
    expect(lines.filter((l) => String(l.msg).includes('over maxBackendEventsPerSecond'))).toHaveLength(1);
  });

  it('a trigger to several channels takes one point per channel; a batch one per event', async () => {
    expect((await statuses([() => sdk(node).trigger(['a', 'b', 'c', 'd'], 'ev', {})]))[0]!.status).toBe(200);
    expect(
      (
        await statuses([
          () =>
            sdk(node).triggerBatch([
              { channel: 'a', name: 'e', data: '{}' },
              { channel: 'b', name: 'e', data: '{}' },
            ]),
        ])
      )[0]!.status,
    ).toBe(429);
  });

  it('read requests over maxReadRequestsPerSecond get 429; publishing is counted apart', async () => {
    const results = await statuses(Array.from({ length: 6 }, () => () => sdk(node).get({ path: '/channels' })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(3);
    expect(results.filter((r) => r.status === 429)).toHaveLength(3);
    expect((await statuses([() => sdk(node).trigger('ch', 'ev', {})]))[0]!.status).toBe(200);
  });
});

describe.skipIf(!redisOk)('rate limits are cluster-wide with the Redis adapter', () => {
  let redis: BrokerProcess;
  const nodes: RunningNode[] = [];
  beforeAll(async () => {
    redis = await BrokerProcess.start('redis');
    for (let i = 0; i < 2; i++) nodes.push(await start({ adapter: 'redis', redisUrl: redis.url, keyPrefix: `rl${process.pid}`, nodeId: `rl-${i}` }));
  }, 20_000);
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop({ drainSeconds: 0 })));
    await redis.stop();
  });

  it('two nodes share one budget: 10 events across them, 5 pass', async () => {
    // Give the rate limiter's Redis connection a moment (until then each node counts alone).
    await new Promise((r) => setTimeout(r, 300));
    const results = await statuses(Array.from({ length: 10 }, (_, i) => () => sdk(nodes[i % 2]!).trigger('ch', 'ev', { i })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(5);
    expect(results.filter((r) => r.status === 429)).toHaveLength(5);
  });
});
