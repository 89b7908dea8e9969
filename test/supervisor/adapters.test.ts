import Pusher from 'pusher';
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerProcess, freePort, REDIS_BINARY, serviceAvailable } from '../cluster/services.js';
import { builtCliAvailable } from '../cluster/node-process.js';
import { DEV_APP, pusherClient, subscribed } from '../helpers/node.js';
import type { RunningNode } from '../../src/node.js';
import { SupervisorProcess, type SupervisorStatus } from './harness.js';

const built = builtCliAvailable();
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function twoReadyNodes(sup: SupervisorProcess): Promise<SupervisorStatus> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const s = await sup.status();
    if (s !== null && s.nodes.length === 2 && s.nodes.every((n) => n.state === 'ready')) return s;
    if (Date.now() > deadline) throw new Error(`two nodes not ready: ${JSON.stringify(s)}\n${sup.tail()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A subscriber on node 0's own port gets an event published on node 1's own port: the nodes are one cluster. */
async function crossNodePublish(sup: SupervisorProcess): Promise<void> {
  const status = await twoReadyNodes(sup);
  const [a, b] = status.nodes.map((n) => Number(n.address.split(':')[1]));
  const client = pusherClient({ port: a } as RunningNode);
  cleanups.push(() => client.disconnect());
  const channel = await subscribed(client, 'across', 10_000);
  const got = new Promise<unknown>((resolve) => channel.bind('hello', resolve));
  const sdk = new Pusher({ appId: DEV_APP.id, key: DEV_APP.key, secret: DEV_APP.secret, host: '127.0.0.1', port: String(b), useTLS: false });
  // The subscription reaches the other node through the relay or the broker shortly after subscription_succeeded: retry the publish a few times.
  let received: unknown = null;
  for (let i = 0; i < 20 && received === null; i++) {
    expect((await sdk.trigger('across', 'hello', { i })).status).toBe(200);
    received = await Promise.race([got, new Promise((resolve) => setTimeout(() => resolve(null), 250))]);
  }
  expect(received).toMatchObject({ i: expect.any(Number) });
  const cluster = (await (await fetch(`http://127.0.0.1:${b}/cluster`)).json()) as { nodes: unknown[] };
  expect(cluster.nodes).toHaveLength(2);
}

const fixed = ['--min', '2', '--max', '2', '--log-level', 'warn', '--heartbeat-interval', '0.3', '--node-timeout', '3', '--drain-seconds', '0'];

describe.skipIf(!built)('switchboard cluster adapters', () => {
  it('without a broker the nodes relay through the supervisor and form one cluster', { timeout: 60_000 }, async () => {
    const sup = new SupervisorProcess(await freePort(), fixed, {});
    cleanups.push(() => sup.stop());
    await crossNodePublish(sup);
    expect((await sup.status())?.nodes.length).toBe(2);
    expect(((await (await fetch(`http://127.0.0.1:${sup.port}/supervisor`)).json()) as { relay: boolean }).relay).toBe(true);
  });

  it.skipIf(!serviceAvailable(REDIS_BINARY, 'redis-server'))('with --redis-url the nodes use Redis', { timeout: 60_000 }, async () => {
    const redis = await BrokerProcess.start('redis');
    cleanups.push(() => redis.stop());
    const sup = new SupervisorProcess(await freePort(), [...fixed, '--redis-url', redis.url], {});
    cleanups.push(() => sup.stop());
    await crossNodePublish(sup);
    expect(((await (await fetch(`http://127.0.0.1:${sup.port}/supervisor`)).json()) as { relay: boolean }).relay).toBe(false);
  });

  it('bad options exit 2 with the field and the reason, before any node starts', async () => {
    const port = await freePort();
    const bad = new SupervisorProcess(port, ['--min', '3', '--max', '2', '--workers', '2'], { SWITCHBOARD_BALANCER_ALGORITHM: 'fastest' });
    const exit = await bad.exited;
    expect(exit.code).toBe(2);
    expect(bad.output).toMatch(/scalingMaxNodes/);
    const both = new SupervisorProcess(port, ['--min', '1', '--scaling-min-nodes', '1'], {});
    expect((await both.exited).code).toBe(2);
    expect(both.output).toMatch(/--min: give --min or --scaling-min-nodes, not both/);
    const workers = new SupervisorProcess(port, ['--workers', '2'], {});
    expect((await workers.exited).code).toBe(2);
    expect(workers.output).toMatch(/workers: switchboard cluster runs one process per node/);
    const balancer = new SupervisorProcess(port, [], { SWITCHBOARD_BALANCER_ALGORITHM: 'fastest' });
    expect((await balancer.exited).code).toBe(2);
    expect(balancer.output).toMatch(/algorithm/);
  });
});
