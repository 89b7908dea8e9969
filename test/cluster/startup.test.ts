import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RunningNode } from '../../src/node.js';
import { DEV_APP, startTestNode } from '../helpers/node.js';
import { getJson } from './node-process.js';
import { BrokerProcess, REDIS_BINARY, freePort, serviceAvailable } from './services.js';
import { eventually } from './harness.js';

/** What a WebSocket upgrade to the node gets: the HTTP status of a refusal, or 101 once open. */
function upgradeStatus(port: number): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/app/${DEV_APP.key}?protocol=7`);
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.close();
    });
    ws.on('error', () => resolve(0));
  });
}

describe.skipIf(!serviceAvailable(REDIS_BINARY, 'redis-server'))('a clustered node starting up', () => {
  const nodes: RunningNode[] = [];
  const brokers: BrokerProcess[] = [];
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.stop({ drainSeconds: 0 })));
    await Promise.all(brokers.splice(0).map((b) => b.stop()));
  });

  it('takes no WebSocket and answers /ready 503 until it has joined its cluster, and both once it has', async () => {
    const broker = await BrokerProcess.start('redis');
    brokers.push(broker);
    const port = await freePort();
    // The broker is away while the node starts: joining takes the whole connect wait (3 s).
    await broker.kill();
    const starting = startTestNode({ port, adapter: 'redis', redisUrl: broker.url, keyPrefix: `s${process.pid}`, heartbeatInterval: 0.2, nodeTimeout: 2 });
    let ready: { status: number; body: unknown } | null = null;
    await eventually(
      () => {
        void getJson(port, '/ready').then(
          (r) => (ready = r),
          () => undefined,
        );
        return ready !== null;
      },
      3000,
      'the HTTP side to answer',
    );
    expect(ready).toMatchObject({ status: 503, body: { ready: false, starting: true } });
    expect(await upgradeStatus(port)).toBe(503);

    const node = await starting;
    nodes.push(node);
    await broker.restart();
    const joined = await getJson(port, '/ready');
    expect(joined.status).toBe(200);
    expect(await upgradeStatus(port)).toBe(101);
  });
});
