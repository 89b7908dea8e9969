import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransport } from '../../src/adapters/create.js';
import { RedisDiscovery } from '../../src/balancer/discovery.js';
import { MEMBERSHIP_SUBJECT } from '../../src/cluster/subjects.js';
import { createLogger } from '../../src/util/logger.js';
import type { Balancer } from '../../src/balancer/balancer.js';
import type { RunningNode } from '../../src/node.js';
import { BrokerProcess, REDIS_BINARY, serviceAvailable } from '../cluster/services.js';
import { connected, pusherClient, startTestNode, type PusherJs } from '../helpers/node.js';
import { sleep, startBalancer, until } from './helpers.js';

/**
 * `--discover redis` with a real redis-server and real clustered nodes: the
 * balancer follows the nodes' heartbeats, a new node ramps through slow
 * start, then paced rebalancing (the nodes close connections with 4200,
 * pusher-js reconnects through the balancer) evens the counts.
 */
const available = serviceAvailable(REDIS_BINARY, 'redis-server');
const TOKEN = 'balancer-test-token-0123456789';
const RATE = 0.05;
const CLIENTS = 240;

let redis: BrokerProcess;
const nodes: RunningNode[] = [];
const clients: PusherJs[] = [];
let balancer: Balancer;
const prefix = `bal${process.pid}`;

async function clusteredNode(): Promise<RunningNode> {
  const node = await startTestNode({ adapter: 'redis', redisUrl: redis.url, keyPrefix: prefix, heartbeatInterval: 0.2, nodeTimeout: 3, adminToken: TOKEN });
  nodes.push(node);
  return node;
}

beforeAll(async () => {
  if (!available) return;
  redis = await BrokerProcess.start('redis');
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await balancer?.stop();
  await Promise.all(nodes.map((n) => n.stop({ drainSeconds: 0 })));
  await redis?.stop();
});

describe.skipIf(!available)('balancer: --discover redis, slow start and rebalancing', () => {
  it('follows the registry, ramps a new node, and rebalances within 10% at no more than the paced rate', { timeout: 90_000 }, async () => {
    await Promise.all([0, 1, 2].map(() => clusteredNode()));
    balancer = await startBalancer({
      discover: 'redis',
      redisUrl: redis.url,
      keyPrefix: prefix,
      nodeTimeout: 3,
      slowStart: 1.5,
      adminToken: TOKEN,
      rebalanceRate: RATE,
      healthTimeout: 3,
    });
    await until(() => balancer.set.all().filter((b) => b.health.state === 'up').length === 3, 10_000, 'three nodes discovered and up');

    for (let i = 0; i < CLIENTS; i++) clients.push(pusherClient({ port: balancer.port } as RunningNode));
    await Promise.all(clients.map((c) => connected(c, 20_000)));
    expect(nodes.map((n) => n.core.connections.size).reduce((a, b) => a + b, 0)).toBe(CLIENTS);

    // Found after the balancer's start-up: a late joiner, so it ramps.
    await sleep(3200);
    const fresh = await clusteredNode();
    const address = `127.0.0.1:${fresh.port}`;
    await until(() => balancer.set.get(address)?.health.state === 'up', 10_000, 'new node up');
    const joined = balancer.set.get(address)!;
    expect(joined.health.ramping(performance.now())).toBe(true);
    const rampStarted = Date.now();
    // No rebalancing while it ramps.
    await sleep(500);
    expect(fresh.core.connections.size).toBe(0);

    // After slow start the planner starts a round and the node receives the reconnects.
    await until(() => fresh.core.connections.size > 0, 15_000, 'new node gets traffic');
    expect(Date.now() - rampStarted).toBeGreaterThanOrEqual(1000);
    const started = Date.now();
    const within10 = (): boolean => {
      const counts = nodes.map((n) => n.core.connections.size);
      const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
      return counts.reduce((a, b) => a + b, 0) === CLIENTS && counts.every((c) => Math.abs(c - mean) <= mean * 0.1);
    };
    try {
      await until(within10, 60_000, 'counts within 10%');
    } catch (err) {
      const view = balancer.describe() as {
        rebalancing: boolean;
        rebalanceEvents: unknown[];
        backends: Array<{ address: string; state: string; activeConnections: number; health: unknown[] }>;
      };
      throw new Error(
        `${(err as Error).message}: nodes ${nodes.map((n) => n.core.connections.size).join(',')}; ${JSON.stringify({ rebalancing: view.rebalancing, events: view.rebalanceEvents.slice(-5), backends: view.backends.map((b) => [b.address, b.state, b.activeConnections, b.health]) })}`,
      );
    }
    const seconds = (Date.now() - started) / 1000 + 2;

    // Paced: per node, one request per tick of at most RATE of its connections (80 → 4).
    const events = (balancer.describe() as { rebalanceEvents: Array<{ backend: string; asked: number; closed: number; at: string }> }).rebalanceEvents;
    expect(events.length).toBeGreaterThan(0);
    const byBackend = new Map<string, typeof events>();
    for (const e of events) byBackend.set(e.backend, [...(byBackend.get(e.backend) ?? []), e]);
    for (const [backend, list] of byBackend) {
      expect(backend).not.toBe(address);
      for (const e of list) expect(e.asked).toBeLessThanOrEqual(Math.ceil((CLIENTS / 3) * RATE));
      const closed = list.reduce((s, e) => s + e.closed, 0);
      expect(closed).toBeLessThanOrEqual(Math.ceil((CLIENTS / 3) * RATE * (seconds + 1)));
    }
    // Every client is connected again (pusher-js reconnects at once after 4200).
    await until(() => clients.every((c) => c.connection.state === 'connected'), 10_000, 'all reconnected');

    // A node that drains gets no new connections; once it says goodbye it leaves the set.
    const leaving = nodes[0]!;
    const leavingAddress = `127.0.0.1:${leaving.port}`;
    const stopped = leaving.stop({ drainSeconds: 1 });
    nodes.shift();
    await stopped;
    await until(() => balancer.set.get(leavingAddress) === undefined, 10_000, 'drained node removed');
    await until(() => clients.every((c) => c.connection.state === 'connected'), 15_000, 'drained clients reconnected');
    expect(nodes.map((n) => n.core.connections.size).reduce((a, b) => a + b, 0)).toBe(CLIENTS);
  });

  it('a node appears with its heartbeat, is forgotten after a silence, comes back when it beats again, and leaves on goodbye', {
    timeout: 20_000,
  }, async () => {
    const events: string[] = [];
    const discovery = new RedisDiscovery(
      { redisUrl: redis.url, keyPrefix: `${prefix}x`, nodeTimeoutMs: 600 },
      { added: (host, port) => events.push(`+${host}:${port}`), removed: (address) => events.push(`-${address}`) },
      createLogger('silent'),
    );
    await discovery.start();
    const link = createTransport({
      adapter: 'redis',
      redisUrl: redis.url,
      keyPrefix: `${prefix}x`,
      nodeId: 'fake',
      clusterCoalesceMs: 0,
      clusterCoalesceMinRate: 0,
    })!;
    await link.connect();
    try {
      const beat = (): boolean =>
        link.publish(
          MEMBERSHIP_SUBJECT,
          JSON.stringify({ t: 'heartbeat', from: 'n1', inc: 'i1', address: '0.0.0.0:7001', load: { connections: 0, channels: 0 }, startedAt: 1 }),
        );
      beat();
      await until(() => events.length === 1, 3000, 'added');
      // A wildcard address is taken as loopback.
      expect(events).toEqual(['+127.0.0.1:7001']);
      beat();
      await sleep(200);
      expect(events.length).toBe(1);
      await until(() => events.length === 2, 3000, 'forgotten after the timeout');
      expect(events[1]).toBe('-127.0.0.1:7001');
      beat();
      await until(() => events.length === 3, 3000, 'back');
      link.publish(MEMBERSHIP_SUBJECT, JSON.stringify({ t: 'bye', from: 'n1', inc: 'i1' }));
      await until(() => events.length === 4, 3000, 'goodbye');
      expect(events).toEqual(['+127.0.0.1:7001', '-127.0.0.1:7001', '+127.0.0.1:7001', '-127.0.0.1:7001']);
    } finally {
      await link.close();
      await discovery.stop();
    }
  });
});
