import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisAdapter, splitRedisUrls } from '../../src/adapters/index.js';
import type { RunningNode } from '../../src/node.js';
import { DEV_APP, RawClient, serverSdk, startTestNode } from '../helpers/node.js';
import { connectedPair, eventually, sleep } from './harness.js';
import { BrokerProcess, REDIS_BINARY, REDIS_CLI, RedisClusterProcess, RedisSentinelProcess, serviceAvailable } from './services.js';

/**
 * Redis deployments other than one server: a real Redis Cluster (sharded
 * pub/sub) and a real Sentinel in front of a master, reached through the
 * URLs an operator would give `--redis-url`.
 */
const available = serviceAvailable(REDIS_BINARY, 'redis-server') && serviceAvailable(REDIS_CLI, 'redis-cli');

describe('redis URL lists', () => {
  it('keeps the comma-separated hosts of sentinel and cluster URLs together, and splits shards', () => {
    expect(splitRedisUrls('redis://a:1, redis://b:2')).toEqual(['redis://a:1', 'redis://b:2']);
    expect(splitRedisUrls('redis-cluster://a:1,b:2,c:3')).toEqual(['redis-cluster://a:1,b:2,c:3']);
    expect(splitRedisUrls('redis-sentinel://a:1,b:2/main,rediss://c:3')).toEqual(['redis-sentinel://a:1,b:2/main', 'rediss://c:3']);
  });
});

describe.skipIf(!available)('redis cluster', () => {
  let cluster: RedisClusterProcess;
  const adapters: RedisAdapter[] = [];
  const nodes: RunningNode[] = [];
  const clients: RawClient[] = [];

  beforeAll(async () => {
    cluster = await RedisClusterProcess.start(3);
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all(nodes.map((n) => n.stop({ drainSeconds: 0 })));
    await Promise.all(adapters.map((a) => a.close()));
    await cluster?.stop();
  });

  it('places subjects on the shard that owns their slot, by sharded pub/sub only', async () => {
    const sender = new RedisAdapter({ urls: [cluster.url], prefix: 'sharded' });
    const receiver = new RedisAdapter({ urls: [cluster.url], prefix: 'sharded' });
    adapters.push(sender, receiver);
    const got = new Set<string>();
    receiver.setHandler((subject) => got.add(subject));
    await Promise.all([sender.connect(), receiver.connect()]);
    const subjects = Array.from({ length: 30 }, (_, i) => `ch.app.room-${i}`);
    await Promise.all(subjects.map((s) => receiver.subscribe(s)));
    for (const s of subjects) sender.publish(s, 'x');
    await eventually(() => got.size === 30, 5000, 'all 30 subjects');

    const sharded = cluster.ports.map((port) => lines(port, 'SHARDCHANNELS', 'sharded.ch.*'));
    expect(sharded.every((n) => n > 0)).toBe(true); // every master carries some
    expect(sharded.reduce((a, b) => a + b, 0)).toBe(30); // each subject on exactly one
    expect(cluster.ports.map((port) => lines(port, 'CHANNELS', 'sharded.*'))).toEqual([0, 0, 0]); // nothing on the cluster-wide bus
  });

  it('clusters real nodes given a redis-cluster:// URL: an event published on one reaches a client on the other', async () => {
    const config = {
      adapter: 'redis' as const,
      redisUrl: cluster.url,
      keyPrefix: 'rcnodes',
      heartbeatInterval: 0.2,
      nodeTimeout: 2,
      requestTimeout: 1,
      leaderLease: 2,
      apps: [DEV_APP],
    };
    const [a, b] = await Promise.all([startTestNode({ ...config, nodeId: 'a' }), startTestNode({ ...config, nodeId: 'b' })]);
    nodes.push(a, b);
    await eventually(() => a.cluster!.peers().length === 1 && b.cluster!.peers().length === 1, 5000, 'the nodes to see each other');
    await eventually(() => [a, b].filter((n) => n.cluster!.isLeader).length === 1, 5000, 'one leader');
    const client = await RawClient.connect(b);
    clients.push(client);
    await client.event('pusher:connection_established');
    client.send({ event: 'pusher:subscribe', data: { channel: 'scores' } });
    await client.event('pusher_internal:subscription_succeeded');
    await eventually(() => lines(cluster.ports, 'SHARDCHANNELS', 'rcnodes.ch.*') === 1, 3000, 'the upstream subscription');
    await serverSdk(a).trigger('scores', 'goal', { team: 'blue' });
    const goal = await client.event('goal');
    expect(goal.data).toBe(JSON.stringify({ team: 'blue' }));
  });
});

describe.skipIf(!available)('redis sentinel', () => {
  let master: BrokerProcess;
  let sentinel: RedisSentinelProcess;
  const adapters: RedisAdapter[] = [];

  beforeAll(async () => {
    master = await BrokerProcess.start('redis');
    sentinel = await RedisSentinelProcess.start(master);
  });
  afterEach(async () => {
    await Promise.all(adapters.splice(0).map((a) => a.close()));
  });
  afterAll(async () => {
    await sentinel?.stop();
    await master?.stop();
  });

  it('finds the master through Sentinel, moves payloads and holds the lease there', async () => {
    const { sender: a, receiver: b, got } = await connectedPair(() => tracked(adapters, new RedisAdapter({ urls: [sentinel.url], prefix: 'sent' })), 'room');
    a.publish('room', 'hello');
    await eventually(() => got.length === 1, 3000, 'the payload');
    expect(got).toEqual(['hello']);
    expect((await a.acquire('lease', 'A', 2000))?.owner).toBe('A');
    expect((await b.acquire('lease', 'B', 2000))?.owner).toBe('A');
    // The lease lives on the master Sentinel named, not anywhere else.
    expect(execFileSync(REDIS_CLI!, ['-p', String(master.port), 'GET', 'sent.lease']).toString()).toMatch(/^A\|\d+/);
  });
});

describe.skipIf(!available)('redis cluster failover', () => {
  let cluster: RedisClusterProcess;
  const adapters: RedisAdapter[] = [];

  beforeAll(async () => {
    cluster = await RedisClusterProcess.start(3, 1);
  }, 30_000);
  afterAll(async () => {
    await Promise.all(adapters.map((a) => a.close()));
    await cluster?.stop();
  });

  it("moves a subject's payloads again once a replica has taken over its dead master", { timeout: 60_000 }, async () => {
    const { sender, got } = await connectedPair(() => tracked(adapters, new RedisAdapter({ urls: [cluster.url], prefix: 'rcfail' })), 'ch.app.feed');
    sender.publish('ch.app.feed', 'before');
    await eventually(() => got.includes('before'), 3000, 'the payload before the failover');

    let refused = 0;
    sender.onRefused(() => refused++);
    const owner = await cluster.masterFor('rcfail.ch.app.feed');
    await cluster.kill(owner);
    const killedAt = Date.now();
    let sent = 0;
    let dropped = 0; // refused by the link itself, were it to go down meanwhile
    const publisher = setInterval(() => {
      if (!sender.publish('ch.app.feed', `after ${sent}`)) dropped++;
      sent++;
    }, 100);
    try {
      await eventually(() => got.some((p) => p.startsWith('after')), 30_000, 'a payload after the failover');
    } finally {
      clearInterval(publisher);
    }
    // Seen here: 4–5 s from the kill (cluster-node-timeout 2 s, then the replica's election), the links staying up.
    expect(Date.now() - killedAt).toBeLessThan(30_000);
    expect(await cluster.masterFor('rcfail.ch.app.feed')).not.toBe(owner);
    await sleep(500);
    // Sharded pub/sub is at most once across a failover: the shard's failures are reported, but on a loaded
    // machine (2026-12-02, several suites at once) some payloads the new master accepted before the
    // subscriber had re-subscribed there were lost unreported, and once two arrived out of order. That is a
    // known limit (docs/cluster.md), measured here rather than asserted away.
    const after = got.filter((p) => p.startsWith('after')).map((p) => Number(p.slice(6)));
    expect(refused + dropped).toBeGreaterThan(0);
    const unreported = Math.max(0, sent - after.length - refused - dropped);
    const outOfOrder = after.filter((n, i) => i > 0 && n < after[i - 1]!).length;
    console.log(
      `[redis cluster failover] sent ${sent}, arrived ${after.length}, reported ${refused + dropped}, lost unreported ${unreported}, out of order ${outOfOrder}`,
    );
    // Payloads flow again once the failover is over.
    const marker = `settled ${Date.now()}`;
    sender.publish('ch.app.feed', marker);
    await eventually(() => got.includes(marker), 5000, 'a payload after the failover settled');
  });
});

describe.skipIf(!available)('redis sentinel failover', () => {
  let master: BrokerProcess;
  let replica: BrokerProcess;
  let sentinel: RedisSentinelProcess;
  const nodes: RunningNode[] = [];
  const clients: RawClient[] = [];

  beforeAll(async () => {
    master = await BrokerProcess.start('redis');
    replica = await BrokerProcess.start('redis');
    // Sync at once (the default waits 5 s to batch replicas): a replica that never synced cannot take over.
    execFileSync(REDIS_CLI!, ['-p', String(master.port), 'CONFIG', 'SET', 'repl-diskless-sync-delay', '0']);
    execFileSync(REDIS_CLI!, ['-p', String(replica.port), 'REPLICAOF', '127.0.0.1', String(master.port)]);
    await eventually(
      () =>
        execFileSync(REDIS_CLI!, ['-p', String(replica.port), 'INFO', 'replication'])
          .toString()
          .includes('master_link_status:up'),
      10_000,
      'the replica to sync',
    );
    sentinel = await RedisSentinelProcess.start(master, 'sbfail', 500);
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all(nodes.map((n) => n.stop({ drainSeconds: 0 })));
    await sentinel?.stop();
    await replica?.stop();
    await master?.stop();
  });

  it('keeps clustered nodes delivering across a master failover, without restarting them', async () => {
    const config = {
      adapter: 'redis' as const,
      redisUrl: sentinel.url,
      keyPrefix: 'failover',
      heartbeatInterval: 0.2,
      nodeTimeout: 2,
      requestTimeout: 1,
      leaderLease: 2,
      apps: [DEV_APP],
    };
    const [a, b] = await Promise.all([startTestNode({ ...config, nodeId: 'a' }), startTestNode({ ...config, nodeId: 'b' })]);
    nodes.push(a, b);
    await eventually(() => a.cluster!.peers().length === 1 && b.cluster!.peers().length === 1, 5000, 'the nodes to see each other');
    const client = await RawClient.connect(b);
    clients.push(client);
    await client.event('pusher:connection_established');
    client.send({ event: 'pusher:subscribe', data: { channel: 'feed' } });
    await client.event('pusher_internal:subscription_succeeded');
    const sdk = serverSdk(a);
    await eventually(() => lines(master.port, 'CHANNELS', 'failover.ch.*') === 1, 3000, 'the upstream subscription');
    await sdk.trigger('feed', 'before', { n: 0 });
    await client.event('before');

    await master.kill();
    const killedAt = Date.now();
    // Publish through A until B's client hears one: Sentinel promotes the replica, both links find it and resubscribe.
    const publisher = setInterval(() => void sdk.trigger('feed', 'after', { at: Date.now() }).catch(() => undefined), 250);
    try {
      await eventually(() => client.messages.some((m) => m.event === 'after'), 20_000, 'cross-node delivery after the failover');
    } finally {
      clearInterval(publisher);
    }
    // Seen here: 1.3–2.8 s from the kill, Sentinel's 0.5 s down-after included.
    expect(Date.now() - killedAt).toBeLessThan(20_000);
    expect(execFileSync(REDIS_CLI!, ['-p', String(sentinel.port), 'SENTINEL', 'get-master-addr-by-name', 'sbfail']).toString()).toContain(String(replica.port));
    expect(a.cluster!.peers().map((p) => p.id)).toEqual(['b']);
  }, 40_000);
});

/** How many (shard) channels match `pattern`, summed over the given nodes. */
function lines(ports: number | number[], kind: 'CHANNELS' | 'SHARDCHANNELS', pattern: string): number {
  let total = 0;
  for (const port of Array.isArray(ports) ? ports : [ports]) {
    const out = execFileSync(REDIS_CLI!, ['-p', String(port), 'PUBSUB', kind, pattern])
      .toString()
      .trim();
    total += out === '' ? 0 : out.split('\n').length;
  }
  return total;
}

/** Remember an adapter for closing after the suite. */
function tracked(list: RedisAdapter[], adapter: RedisAdapter): RedisAdapter {
  list.push(adapter);
  return adapter;
}
