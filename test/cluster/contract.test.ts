import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterTransport } from '../../src/adapters/index.js';
import { clusterMetrics } from '../../src/cluster/index.js';
import { LOCAL_NODE } from '../../src/core/membership.js';
import { NATS_BINARY, REDIS_BINARY, REDIS_CLI, serviceAvailable } from './services.js';
import { TransportFactory, connectedPair, eventually, sleep, startClusterNode, type AdapterKind, type TestNode } from './harness.js';

/**
 * One contract, every adapter: the same tests run against the in-process
 * bus, a real redis-server, a real three-master Redis Cluster (sharded
 * pub/sub) and a real nats-server, all started on free ports.
 */
const suites: Array<[AdapterKind, boolean]> = [
  ['local', true],
  ['redis', serviceAvailable(REDIS_BINARY, 'redis-server')],
  ['redis-cluster', serviceAvailable(REDIS_BINARY, 'redis-server') && serviceAvailable(REDIS_CLI, 'redis-cli')],
  ['nats', serviceAvailable(NATS_BINARY, 'nats-server')],
];

describe.each(suites)('cluster contract: %s adapter', (kind, available) => {
  let factory: TransportFactory;
  const nodes: TestNode[] = [];

  beforeAll(async () => {
    if (available) factory = await TransportFactory.create(kind);
  });
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.node.stop(false)));
  });
  afterAll(async () => {
    await factory?.closeAll();
  });

  const start = async (id: string, prefix?: string): Promise<TestNode> => {
    const n = await startClusterNode(factory, id, prefix);
    nodes.push(n);
    return n;
  };

  describe.skipIf(!available)('transport', () => {
    it('delivers published payloads to subscribers only, in order, coalesced or not', async () => {
      const a = factory.make();
      const b = factory.make();
      const got: string[] = [];
      b.setHandler((subject, payload) => got.push(`${subject}:${payload}`));
      await Promise.all([a.connect(), b.connect()]);
      await b.subscribe('room.one');
      for (let i = 0; i < 50; i++) a.publish('room.one', String(i)); // one tick: one coalesced write
      a.publish('room.other', 'nobody listens');
      await eventually(() => got.length === 50, 3000, '50 payloads');
      expect(got).toEqual(Array.from({ length: 50 }, (_, i) => `room.one:${i}`));

      b.unsubscribe('room.one');
      await sleep(100);
      a.publish('room.one', 'after unsubscribe');
      await sleep(200);
      expect(got).toHaveLength(50);
    });

    it('carries a tick of payloads larger than one broker message whole and in order', async () => {
      const { sender: a, got } = await connectedPair(() => factory.make(), 'room.big');
      // 2.4 MB of text in one tick: batched per subject, but never past what NATS accepts (1 MB).
      const sent = Array.from({ length: 60 }, (_, i) => `${i}:${'é'.repeat(20_000)}`);
      for (const payload of sent) a.publish('room.big', payload);
      await eventually(() => got.length === sent.length, 5000, `${sent.length} big payloads`);
      expect(got).toEqual(sent);
    });

    it.skipIf(kind !== 'nats')('refuses alone a payload over the server’s max_payload: the link stays up and the rest arrive', async () => {
      const { sender: a, got } = await connectedPair(() => factory.make(), 'room.limits');
      const refused: string[] = [];
      a.onRefused((subject) => refused.push(subject));
      a.publish('room.limits', 'before');
      a.publish('room.other', 'x'.repeat(2 * 1024 * 1024)); // nats-server's default max_payload is 1 MB
      a.publish('room.limits', 'same tick');
      await eventually(() => got.length === 2, 3000, 'the payloads around the refused one');
      a.publish('room.limits', 'later');
      await eventually(() => got.length === 3, 3000, 'a later payload');
      expect(got).toEqual(['before', 'same tick', 'later']);
      expect(refused).toEqual(['room.other']);
      expect(a.state).toBe('connected');
    });

    it.skipIf(kind !== 'nats')('does not send a node its own payloads back (NATS no-echo)', async () => {
      const a = factory.make();
      const b = factory.make();
      const atA: string[] = [];
      const atB: string[] = [];
      a.setHandler((_subject, payload) => atA.push(payload));
      b.setHandler((_subject, payload) => atB.push(payload));
      await Promise.all([a.connect(), b.connect()]);
      await Promise.all([a.subscribe('room.echo'), b.subscribe('room.echo')]);
      a.publish('room.echo', 'from a');
      await eventually(() => atB.length === 1, 3000, 'the payload at B');
      await sleep(200);
      expect(atA).toEqual([]);
    });

    it('keeps deployments with different prefixes apart', async () => {
      const a = factory.make('blue');
      const b = factory.make('green');
      const got: string[] = [];
      b.setHandler((_s, payload) => got.push(payload));
      await Promise.all([a.connect(), b.connect()]);
      await b.subscribe('shared');
      a.publish('shared', 'from blue');
      const sameDeployment = factory.make('green');
      await sameDeployment.connect();
      sameDeployment.publish('shared', 'from green');
      await eventually(() => got.length === 1, 3000, 'the green payload');
      await sleep(150);
      expect(got).toEqual(['from green']);
    });

    it('grants a lease to one owner at a time, with a fencing token that grows on hand-off', async () => {
      const a = factory.make();
      const b = factory.make();
      await Promise.all([a.connect(), b.connect()]);
      const key = `lease-${Date.now()}`;
      const first = await a.acquire(key, 'A', 1500);
      expect(first?.owner).toBe('A');
      expect((await b.acquire(key, 'B', 1500))?.owner).toBe('A');
      const renewed = await a.acquire(key, 'A', 1500);
      expect(renewed?.owner).toBe('A');
      await a.release(key, 'B'); // not B's to give back
      expect((await b.acquire(key, 'B', 1500))?.owner).toBe('A');
      await a.release(key, 'A');
      const second = await b.acquire(key, 'B', 1500);
      expect(second?.owner).toBe('B');
      expect(second!.token).toBeGreaterThan(renewed!.token);
    });
  });

  describe.skipIf(!available)('cluster layer', () => {
    it('builds its registry from heartbeats and sends events only to nodes with subscribers', async () => {
      const [a, b, c] = await Promise.all([start('a'), start('b'), start('c')]);
      await eventually(() => [a, b, c].every((n) => n.node.peers().length === 2), 3000, 'every node to know two peers');
      b.node.watch('app', 'news', false);
      await sleep(100);
      a.node.publish('app', 'news', '{"event":"x"}', 'socket.1');
      a.node.publish('app', 'sports', '{"event":"y"}');
      await eventually(() => b.host.delivered.length === 1, 3000, 'B to receive');
      await sleep(150);
      expect(b.host.delivered[0]).toEqual({ app: 'app', channel: 'news', json: '{"event":"x"}', except: 'socket.1' });
      expect(c.host.delivered).toHaveLength(0);
      expect(a.host.delivered).toHaveLength(0); // never its own message back

      b.node.unwatch('app', 'news');
      await sleep(150);
      a.node.publish('app', 'news', '{"event":"z"}');
      await sleep(200);
      expect(b.host.delivered).toHaveLength(1);
    });

    it('answers cluster-wide queries from every live node', async () => {
      const [a, b, c] = await Promise.all([start('a'), start('b'), start('c')]);
      await eventually(() => a.node.peers().length === 2, 3000, 'A to know two peers');
      b.host.subscribers.set('x', 2);
      c.host.subscribers.set('x', 3);
      const result = await a.node.query({ q: 'channels', app: 'app' });
      expect(result.complete).toBe(true);
      expect(result.answers).toEqual(expect.arrayContaining([[{ name: 'x', subscriptionCount: 2 }], [{ name: 'x', subscriptionCount: 3 }]]));
      const terminated = await a.node.query({ q: 'terminate-user', app: 'app', user: 'u1' });
      expect(terminated.answers).toEqual([1, 1]);
      expect(b.host.terminated).toEqual(['u1']);
    });

    it('keeps presence cluster-wide: one member_added / member_removed per user, whatever the node count', async () => {
      const [a, b, c] = await Promise.all([start('a'), start('b'), start('c')]);
      await eventually(() => [a, b, c].every((n) => n.node.peers().length === 2), 3000, 'registry');
      // A has a member before B arrives: B must learn it from the sync, before it answers its own subscriber.
      localJoin(a, 'presence-room', 'u1', { name: 'one' });
      b.node.watch('app', 'presence-room', true);
      await b.node.presenceReady('app', 'presence-room');
      expect([...b.host.model.members('presence-room')]).toEqual([['u1', { name: 'one' }]]);

      // u2 joins on A and on C: B hears of u2 once.
      c.node.watch('app', 'presence-room', true);
      await c.node.presenceReady('app', 'presence-room');
      localJoin(a, 'presence-room', 'u2', { name: 'two' });
      localJoin(c, 'presence-room', 'u2', { name: 'two' });
      await eventually(() => b.host.model.isMemberElsewhere('presence-room', 'u2'), 3000, 'u2 on B');
      await sleep(200);
      expect(b.host.added.filter((e) => e.userId === 'u2')).toHaveLength(1);
      // It leaves A but is still on C: nothing; then C: one member_removed.
      a.host.model.memberLeft(LOCAL_NODE, 'presence-room', 'u2');
      await sleep(200);
      expect(b.host.removed).toHaveLength(0);
      c.host.model.memberLeft(LOCAL_NODE, 'presence-room', 'u2');
      await eventually(() => b.host.removed.length === 1, 3000, 'u2 removed on B');
      await sleep(150);
      expect(b.host.removed).toEqual([{ channel: 'presence-room', userId: 'u2' }]);
    });

    it('declares a silent node dead within the timeout and removes each of its members exactly once', async () => {
      const [a, b, c] = await Promise.all([start('a'), start('b'), start('c')]);
      await eventually(() => [a, b, c].every((n) => n.node.peers().length === 2), 3000, 'registry');
      for (const n of [a, b]) n.node.watch('app', 'presence-x', true);
      await Promise.all([a.node.presenceReady('app', 'presence-x'), b.node.presenceReady('app', 'presence-x')]);
      localJoin(c, 'presence-x', 'ghost1', {});
      localJoin(c, 'presence-x', 'ghost2', {});
      await eventually(() => a.host.added.length === 2 && b.host.added.length === 2, 3000, 'ghosts on A and B');

      await c.node.stop(false); // a crash: no goodbye
      const took = await eventually(() => a.host.removed.length === 2 && b.host.removed.length === 2, 5000, 'ghosts removed');
      expect(took).toBeLessThan(FAST_TIMEOUT + 1500);
      await sleep(500);
      for (const n of [a, b]) {
        expect(n.host.removed.map((r) => r.userId).sort()).toEqual(['ghost1', 'ghost2']);
        expect(n.node.peers().map((p) => p.id)).not.toContain('c');
        expect([...n.host.model.members('presence-x')]).toEqual([]);
      }
    });

    it('clears the old state of a node that restarts under the same id', async () => {
      const [a, b] = await Promise.all([start('a'), start('b')]);
      await eventually(() => a.node.peers().length === 1, 3000, 'registry');
      a.node.watch('app', 'presence-r', true);
      await a.node.presenceReady('app', 'presence-r');
      localJoin(b, 'presence-r', 'old-user', {});
      await eventually(() => a.host.model.isMemberElsewhere('presence-r', 'old-user'), 3000, 'old-user on A');
      await b.node.stop(false);
      const again = await start('b');
      await eventually(() => a.host.removed.some((r) => r.userId === 'old-user'), 2000, 'old run dropped on hello');
      expect(a.node.peers().find((p) => p.id === 'b')?.incarnation).toBe(again.node.incarnation);
    });

    it('tells a node that joins late who is signed in elsewhere, and who goes offline when their node dies', async () => {
      const a = await start('a');
      a.host.model.signedIn(LOCAL_NODE, 'u1'); // nobody listening yet: only the sync on joining can tell B
      const b = await start('b');
      await eventually(() => b.host.model.isOnlineElsewhere('u1'), 3000, 'u1 online on B');
      expect(b.host.userEvents).toEqual(['online:u1']);
      expect(a.host.model.isOnlineElsewhere('u1')).toBe(false); // never itself

      await a.node.stop(false); // a crash: no goodbye
      await eventually(() => b.host.userEvents.includes('offline:u1'), FAST_TIMEOUT + 2000, 'u1 offline on B');
      await sleep(300);
      expect(b.host.userEvents).toEqual(['online:u1', 'offline:u1']);
    });

    it('syncs a signed-in list larger than one broker message to a node that joins late', async () => {
      const a = await start('a');
      // ~2.4 MB of JSON: over NATS's 1 MB max_payload in one message, so it must travel in parts.
      const users = Array.from({ length: 20_000 }, (_, i): [string, string] => ['app', `user-${i}-${'x'.repeat(100)}`]);
      for (const [, id] of users) a.host.model.signedIn(LOCAL_NODE, id);
      const b = await start('b');
      await eventually(() => b.host.userEvents.length === users.length, 8000, 'every user online on B');
      expect(new Set(b.host.userEvents)).toEqual(new Set(users.map(([, id]) => `online:${id}`)));
      expect(b.host.model.isOnlineElsewhere(users[19_999]![1])).toBe(true);
    });

    it("finds the youngest copy of a cache channel's last event in the cluster and keeps it", async () => {
      const [a, b, c] = await Promise.all([start('a'), start('b'), start('c')]);
      await eventually(() => b.node.peers().length === 2, 3000, 'registry');
      a.host.cache.set('cache-x', { json: '"old"', storedAt: Date.now() - 5000 });
      c.host.cache.set('cache-x', { json: '"new"', storedAt: Date.now() - 1000 });
      b.host.cache.set('cache-x', { json: '"stale"', storedAt: Date.now() - 9000 });
      expect(b.node.cachedEventLookup('app', 'cache-x', false)).toBeNull(); // subscribers here: the local copy is current
      expect(await b.node.cachedEventLookup('app', 'cache-x', true)).toBe('"new"');
      expect(b.host.cache.get('cache-x')?.json).toBe('"new"');
      expect(await b.node.cachedEventLookup('app', 'cache-nothing', true)).toBeUndefined();
    });

    it('elects exactly one leader, and a new one within the lease after it dies, never two at once', async () => {
      const all = await Promise.all([start('l1'), start('l2'), start('l3')]);
      await eventually(() => all.filter((n) => n.node.isLeader).length === 1, 3000, 'a leader');
      let maxLeaders = 0;
      const sampler = setInterval(() => {
        maxLeaders = Math.max(maxLeaders, all.filter((n) => n.node.isLeader).length);
      }, 10);
      try {
        const leader = all.find((n) => n.node.isLeader)!;
        await leader.node.stop(false); // crash: the lease is not handed back
        const rest = all.filter((n) => n !== leader);
        const took = await eventually(() => rest.filter((n) => n.node.isLeader).length === 1, 4000, 'a new leader');
        expect(took).toBeLessThan(FAST_LEASE * 1.6);
        await sleep(FAST_LEASE);
        expect(rest.filter((n) => n.node.isLeader)).toHaveLength(1);
        const description = rest[0]!.node.describe();
        expect(description.leader).toBe(rest.find((n) => n.node.isLeader)!.node.id);
      } finally {
        clearInterval(sampler);
      }
      expect(maxLeaders).toBe(1);
    });
  });

  // Killing one process of a Redis Cluster is a failover story of its own, not this test's.
  describe.skipIf(!available || kind === 'local' || kind === 'redis-cluster')('broker failure', () => {
    it('goes degraded while the broker is down, then reconnects, resubscribes and delivers again within 5 s', async () => {
      const [a, b] = await Promise.all([start('a'), start('b')]);
      await eventually(() => a.node.peers().length === 1 && b.node.peers().length === 1, 3000, 'registry');
      b.node.watch('app', 'live', false);
      await sleep(100);
      a.node.publish('app', 'live', '"before"');
      await eventually(() => b.host.delivered.length === 1, 3000, 'delivery before the outage');

      await factory.broker!.kill();
      await eventually(() => a.node.degraded.degraded && b.node.degraded.degraded, 3000, 'degraded mode');
      const skippedBefore = await skippedPublishes();
      a.node.publish('app', 'live', '"during"'); // skipped (counted), never thrown
      expect(await skippedPublishes()).toBe(skippedBefore + 1);
      const query = await a.node.query({ q: 'channels', app: 'app' });
      expect(query.complete).toBe(false);

      await factory.broker!.restart();
      const restartedAt = Date.now();
      // Resubscribed without any call from us: a fresh publish reaches B again.
      await eventually(
        () => {
          if (!a.node.degraded.degraded) a.node.publish('app', 'live', '"after"');
          return b.host.delivered.some((d) => d.json === '"after"');
        },
        5000,
        'delivery after the broker came back',
      );
      expect(Date.now() - restartedAt).toBeLessThan(5000);
      expect(b.host.delivered.map((d) => d.json)).not.toContain('"during"');
      expect(a.transport.state satisfies ClusterTransport['state']).toBe('connected');
    });
  });
});

/** A socket of `n` subscribes to a presence channel as `userId` (first socket of that user there). */
function localJoin(n: TestNode, channel: string, userId: string, info: unknown): void {
  n.host.model.setSubscribers(LOCAL_NODE, channel, n.host.model.localMembers(channel).length + 1, true);
  n.host.model.memberJoined(LOCAL_NODE, channel, userId, info);
}

async function skippedPublishes(): Promise<number> {
  const metric = await clusterMetrics.skipped.get();
  return metric.values.find((v) => v.labels.kind === 'publish')?.value ?? 0;
}

const FAST_TIMEOUT = 1200;
const FAST_LEASE = 1200;
