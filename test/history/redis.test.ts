import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { historyMetrics } from '../../src/metrics/index.js';
import type { RunningNode } from '../../src/node.js';
import { signChannelAuth } from '../../src/protocol/signatures.js';
import { DEV_APP, RawClient, sleep, startTestNode } from '../helpers/node.js';
import { execFileSync } from 'node:child_process';
import { BrokerProcess, NATS_BINARY, REDIS_BINARY, REDIS_CLI, serviceAvailable } from '../cluster/services.js';
import { connected, pusherClient, type PusherJs } from '../helpers/node.js';
import { eventually } from '../cluster/harness.js';
import { eventsOn, publish, signedApi, subscribeRaw, until, type Frame } from './helpers.js';

/**
 * History in Redis Streams across real nodes clustered through a real
 * redis-server (and through NATS with history in Redis), started by the test.
 */
const available = serviceAvailable(REDIS_BINARY, 'redis-server');
const natsAvailable = serviceAvailable(NATS_BINARY, 'nats-server');
const HISTORY = [
  { pattern: 'chat-*', size: 1000, ttlSeconds: 300 },
  { pattern: 'brief-*', size: 100, ttlSeconds: 1 },
  { pattern: 'private-chat-*', size: 100, ttlSeconds: 300 },
];

describe.runIf(available)('history on Redis, three nodes', () => {
  let redis: BrokerProcess;
  let nats: BrokerProcess | undefined;
  const nodes: RunningNode[] = [];
  const raws: RawClient[] = [];
  let prefixCounter = 0;

  beforeAll(async () => {
    redis = await BrokerProcess.start('redis');
    if (natsAvailable) nats = await BrokerProcess.start('nats');
  });
  afterEach(async () => {
    for (const r of raws.splice(0)) r.close();
    await Promise.all(nodes.splice(0).map((n) => n.stop({ drainSeconds: 0 })));
  });
  afterAll(async () => {
    await redis?.stop();
    await nats?.stop();
  });

  async function cluster(count: number, adapter: 'redis' | 'nats' = 'redis'): Promise<RunningNode[]> {
    const keyPrefix = `h${process.pid}x${++prefixCounter}`;
    const started = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        startTestNode({
          adapter,
          ...(adapter === 'redis' ? { redisUrl: redis.url } : { natsUrl: nats!.url, historyRedisUrl: redis.url }),
          keyPrefix,
          nodeId: `n${i}`,
          heartbeatInterval: 0.2,
          nodeTimeout: 2,
          requestTimeout: 1,
          leaderLease: 2,
          apps: [{ ...DEV_APP, history: HISTORY }],
        }),
      ),
    );
    nodes.push(...started);
    await eventually(() => started.every((n) => n.cluster!.peers().length === count - 1), 5000, 'every node to see the others');
    return started;
  }

  async function raw(node: RunningNode): Promise<RawClient> {
    const client = await RawClient.connect(node);
    raws.push(client);
    await client.event('pusher:connection_established');
    return client;
  }

  /** Publish `count` events through `node`, `inFlight` at a time; data `${tag}-${i}`. */
  async function publishMany(node: RunningNode, channel: string, tag: string, count: number, inFlight = 8): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < count) {
          const i = next++;
          expect(await publish(node, channel, `${tag}-${i}`)).toBe(200);
        }
      }),
    );
  }

  it('concurrent publishes through all three nodes give one gap-free offset sequence, the same at every subscriber', async () => {
    const trio = await cluster(3);
    const subscribers = await Promise.all(trio.flatMap((n) => [raw(n), raw(n)]));
    const positions = await Promise.all(subscribers.map((c) => subscribeRaw(c, 'chat-seq')));
    expect(new Set(positions.map((p) => p.epoch)).size).toBe(1);
    const PER_NODE = 150;
    await Promise.all(trio.map((n, i) => publishMany(n, 'chat-seq', `n${i}`, PER_NODE)));
    const total = PER_NODE * 3;
    await until(() => subscribers.every((c) => eventsOn(c, 'chat-seq').length >= total), 10_000, 'every subscriber to get every event');
    await sleep(100);
    const reference = eventsOn(subscribers[0]!, 'chat-seq');
    expect(reference.map((m) => m.offset)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(new Set(reference.map((m) => m.data)).size).toBe(total);
    for (const c of subscribers) {
      const got = eventsOn(c, 'chat-seq');
      expect(got.length).toBe(total);
      expect(got.map((m) => `${m.offset}:${String(m.data)}:${m.epoch}`)).toEqual(reference.map((m) => `${m.offset}:${String(m.data)}:${m.epoch}`));
    }
    // The history API on any node shows the same stream.
    for (const n of trio) {
      const page = JSON.parse((await signedApi(n, 'GET', '/channels/chat-seq/history', { since: String(total - 3) })).text) as {
        offset: number;
        events: Array<{ offset: number; data: string }>;
      };
      expect(page.offset).toBe(total);
      expect(page.events.map((e) => e.data)).toEqual(reference.slice(-3).map((m) => m.data));
    }
  });

  it('a client that reconnects to another node recovers exactly what it missed', async () => {
    const [a, b, c] = await cluster(3);
    const first = await raw(a!);
    await subscribeRaw(first, 'chat-move');
    await publish(b!, 'chat-move', 'before');
    await until(() => eventsOn(first, 'chat-move').length === 1);
    const last = eventsOn(first, 'chat-move')[0]!;
    first.close();
    await publishMany(b!, 'chat-move', 'missed', 20, 4);
    const moved = await raw(c!);
    const succeeded = await subscribeRaw(moved, 'chat-move', { offset: last.offset, epoch: last.epoch });
    expect(succeeded).toMatchObject({ recovered: true, offset: 21, epoch: last.epoch });
    await publish(a!, 'chat-move', 'live');
    await until(() => eventsOn(moved, 'chat-move').length === 21);
    const got = eventsOn(moved, 'chat-move');
    expect(got.map((m) => m.offset)).toEqual(Array.from({ length: 21 }, (_, i) => i + 2));
    expect(got.at(-1)!.data).toBe('live');
  });

  it('no duplicate and no gap at the seam while events are being published', async () => {
    const [a, b, c] = await cluster(3);
    const watcher = await raw(b!);
    await subscribeRaw(watcher, 'chat-seam');
    const TOTAL = 400;
    const publishing = publishMany(b!, 'chat-seam', 'p', TOTAL, 4);
    // Reconnect clients at moments spread over the publishing, each recovering from where the watcher was.
    const recovering: Array<{ client: RawClient; from: number }> = [];
    for (let k = 0; k < 12; k++) {
      await sleep(20);
      const seen = eventsOn(watcher, 'chat-seam');
      const from = seen.length === 0 ? 0 : seen.at(-1)!.offset!;
      const client = await raw(k % 2 === 0 ? a! : c!);
      const epoch = seen[0]?.epoch;
      const s = await subscribeRaw(client, 'chat-seam', epoch === undefined ? undefined : { offset: from, epoch });
      if (epoch !== undefined) expect(s.recovered).toBe(true);
      recovering.push({ client, from: epoch === undefined ? s.offset! : from });
    }
    await publishing;
    for (const { client, from } of recovering) {
      await until(() => eventsOn(client, 'chat-seam').at(-1)?.offset === TOTAL, 10_000, 'the last event');
      const offsets = eventsOn(client, 'chat-seam').map((m) => m.offset);
      expect(offsets).toEqual(Array.from({ length: TOTAL - from }, (_, i) => from + 1 + i));
    }
  });

  it('history expired: recovered false and nothing replayed', async () => {
    const [a, b] = await cluster(2);
    const first = await raw(a!);
    const position = await subscribeRaw(first, 'brief-x');
    first.close();
    await publish(b!, 'brief-x', 'gone');
    await sleep(1100);
    const again = await raw(b!);
    const s = await subscribeRaw(again, 'brief-x', { offset: position.offset, epoch: position.epoch });
    expect(s.recovered).toBe(false);
    await publish(a!, 'brief-x', 'live');
    await until(() => eventsOn(again, 'brief-x').length === 1);
    await sleep(50);
    expect(eventsOn(again, 'brief-x').map((m) => m.data)).toEqual(['live']);
  });

  it('a forged or malformed recover gets recovered:false and the node keeps serving', async () => {
    const [a, b] = await cluster(2);
    await publish(b!, 'chat-fuzz', 'one');
    const c = await raw(a!);
    const bad: unknown[] = [
      'x',
      5,
      [],
      { offset: '1', epoch: 'e' },
      { offset: -1, epoch: 'e' },
      { offset: 1.5, epoch: 'e' },
      { offset: 1e300, epoch: 'e' },
      { offset: Number.MAX_SAFE_INTEGER, epoch: 'e' },
      { offset: 1 },
      { epoch: 'e' },
      { offset: 1, epoch: 'not an epoch!' },
      { offset: 1, epoch: 'x'.repeat(65) },
      { offset: 1, epoch: 'unknownEpoch' },
      { offset: 1, epoch: { nested: true } },
      true,
    ];
    for (const recover of bad) {
      const s = await subscribeRaw(c, 'chat-fuzz', recover);
      expect(s.recovered, JSON.stringify(recover)).toBe(false);
    }
    // The real position still recovers, and nothing was replayed by the bad ones.
    const good = await subscribeRaw(c, 'chat-fuzz', { offset: 0, epoch: (await subscribeRaw(c, 'chat-fuzz')).epoch });
    expect(good.recovered).toBe(true);
    await until(() => eventsOn(c, 'chat-fuzz').length === 1);
    expect(eventsOn(c, 'chat-fuzz').map((m) => m.data)).toEqual(['one']);
  });

  it('with the history Redis down, a publish to a history channel answers 503; it works again when Redis is back', async () => {
    const own = await BrokerProcess.start('redis');
    try {
      const node = await startTestNode({ historyRedisUrl: own.url, keyPrefix: `down${process.pid}`, apps: [{ ...DEV_APP, history: HISTORY }] });
      nodes.push(node);
      const c = await raw(node);
      const before = await subscribeRaw(c, 'chat-down');
      expect(await publish(node, 'chat-down', 'ok')).toBe(200);
      const failedBefore = (await historyMetrics.appends.get()).values.find((v) => v.labels.outcome === 'failed')?.value ?? 0;
      await own.kill();
      expect(await publish(node, 'chat-down', 'lost')).toBe(503);
      expect(await publish(node, 'plain-down', 'fine')).toBe(200);
      const failedAfter = (await historyMetrics.appends.get()).values.find((v) => v.labels.outcome === 'failed')?.value ?? 0;
      expect(failedAfter).toBeGreaterThan(failedBefore);
      await own.restart();
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        await sleep(100);
        status = await publish(node, 'chat-down', 'back');
      }
      expect(status).toBe(200);
      // Redis lost the stream: a new epoch, and the old position does not recover.
      const d = await raw(node);
      const s = await subscribeRaw(d, 'chat-down', { offset: 1, epoch: before.epoch });
      expect(s.recovered).toBe(false);
      expect(s.epoch).not.toBe(before.epoch);
    } finally {
      await own.stop();
    }
  });

  it('client events on a private history channel get offsets in the same sequence as API events', async () => {
    const [a, b] = await cluster(2);
    const sender = await raw(a!);
    const receiver = await raw(b!);
    for (const c of [sender, receiver]) {
      const from = c.messages.length;
      c.send({ event: 'pusher:subscribe', data: { channel: 'private-chat-ce', auth: signChannelAuth(DEV_APP, c.socketId, 'private-chat-ce') } });
      await c.next((m) => m.event === 'pusher_internal:subscription_succeeded', 3000, from);
    }
    sender.send({ event: 'client-typing', channel: 'private-chat-ce', data: { who: 'a' } });
    await until(() => eventsOn(receiver, 'private-chat-ce').length === 1);
    expect(await publish(b!, 'private-chat-ce', 'api')).toBe(200);
    await until(() => eventsOn(receiver, 'private-chat-ce').length === 2 && eventsOn(sender, 'private-chat-ce').length === 1);
    expect(eventsOn(receiver, 'private-chat-ce').map((m) => [m.event, m.offset])).toEqual([
      ['client-typing', 1],
      ['msg', 2],
    ]);
    // The sender does not get its own client event back, only the API one.
    expect(eventsOn(sender, 'private-chat-ce').map((m) => [m.event, m.offset])).toEqual([['msg', 2]]);
  });

  it("events lost on a node's pub/sub link (killed by Redis) are read back from the stream: no gap for its subscribers", async () => {
    const [a, b] = await cluster(2);
    const c = await raw(a!);
    await subscribeRaw(c, 'chat-relink');
    await publish(b!, 'chat-relink', 'before');
    await until(() => eventsOn(c, 'chat-relink').length === 1);
    // Drop every pub/sub connection (the history subscribers among them) and publish at once, before they are back.
    execFileSync(REDIS_CLI!, ['-p', String(redis.port), 'client', 'kill', 'type', 'pubsub']);
    for (let i = 0; i < 5; i++) expect(await publish(b!, 'chat-relink', `during-${i}`)).toBe(200);
    await sleep(500);
    expect(await publish(b!, 'chat-relink', 'after')).toBe(200);
    await until(() => eventsOn(c, 'chat-relink').length >= 7, 5000, 'the events published while the link was down');
    expect(eventsOn(c, 'chat-relink').map((m) => m.offset)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('stock pusher-js on a history channel across nodes', async () => {
    const [a, b] = await cluster(2);
    const client: PusherJs = pusherClient(a!);
    try {
      await connected(client);
      const channel = client.subscribe('chat-pjs');
      await new Promise<void>((resolve) => channel.bind('pusher:subscription_succeeded', () => resolve()));
      const got: unknown[] = [];
      channel.bind('msg', (data: unknown) => got.push(data));
      for (let i = 0; i < 5; i++) await publish(b!, 'chat-pjs', JSON.stringify({ i }));
      await until(() => got.length === 5);
      expect(got).toEqual([0, 1, 2, 3, 4].map((i) => ({ i })));
    } finally {
      client.disconnect();
    }
  });

  it.runIf(natsAvailable)('NATS adapter with history in Redis: one gap-free sequence across nodes', async () => {
    const pair = await cluster(2, 'nats');
    const subscribers = await Promise.all(pair.map((n) => raw(n)));
    await Promise.all(subscribers.map((c) => subscribeRaw(c, 'chat-nats')));
    await Promise.all(pair.map((n, i) => publishMany(n, 'chat-nats', `n${i}`, 50)));
    await until(() => subscribers.every((c) => eventsOn(c, 'chat-nats').length === 100), 10_000, 'all events');
    for (const c of subscribers) expect(eventsOn(c, 'chat-nats').map((m: Frame) => m.offset)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });
});
