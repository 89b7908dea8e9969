import type Pusher from 'pusher';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clusterMetrics } from '../../src/cluster/index.js';
import type { RunningNode } from '../../src/node.js';
import { DEV_APP, RawClient, connected, pusherClient, serverSdk, sleep, startTestNode, withTimeout, type PusherJs } from '../helpers/node.js';
import { BrokerProcess, NATS_BINARY, REDIS_BINARY, serviceAvailable } from './services.js';
import { eventually } from './harness.js';

/**
 * Several real nodes in this process, clustered through a real redis-server
 * or nats-server, driven by real pusher-js clients, raw WebSockets and the
 * pusher SDK.
 */
const brokers: Array<['redis' | 'nats', boolean]> = [
  ['redis', serviceAvailable(REDIS_BINARY, 'redis-server')],
  ['nats', serviceAvailable(NATS_BINARY, 'nats-server')],
];

type Message = { event: string; channel?: string; data?: unknown };

describe.each(brokers)('nodes clustered through %s', (kind, available) => {
  let broker: BrokerProcess;
  const nodes: RunningNode[] = [];
  const clients: PusherJs[] = [];
  const raws: RawClient[] = [];
  let prefixCounter = 0;

  beforeAll(async () => {
    if (available) broker = await BrokerProcess.start(kind);
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    for (const r of raws.splice(0)) r.close();
    await Promise.all(nodes.splice(0).map((n) => n.stop({ drainSeconds: 0 })));
  });
  afterAll(async () => {
    await broker?.stop();
  });

  /** `count` nodes of one fresh deployment (own key prefix), knowing each other. */
  async function cluster(count: number, app: Record<string, unknown> = {}): Promise<RunningNode[]> {
    const keyPrefix = `t${process.pid}x${++prefixCounter}`;
    const started = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        startTestNode({
          adapter: kind,
          ...(kind === 'redis' ? { redisUrl: broker.url } : { natsUrl: broker.url }),
          keyPrefix,
          nodeId: `n${i}`,
          heartbeatInterval: 0.2,
          nodeTimeout: 2,
          requestTimeout: 1,
          leaderLease: 2,
          apps: [{ ...DEV_APP, enableClientEvents: true, enableSubscriptionCount: true, ...app }],
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

  async function subscribeRaw(
    client: RawClient,
    sdk: Pusher,
    channel: string,
    presence?: { user_id: string; user_info?: Record<string, unknown> },
  ): Promise<Message> {
    const auth = channel.startsWith('presence-')
      ? sdk.authorizeChannel(client.socketId, channel, presence)
      : channel.startsWith('private-')
        ? sdk.authorizeChannel(client.socketId, channel)
        : undefined;
    const from = client.messages.length;
    client.send({ event: 'pusher:subscribe', data: { channel, ...(auth ?? {}) } });
    return client.next((m) => m.channel === channel && m.event.includes('subscription_'), 3000, from);
  }

  function count(client: RawClient, event: string, predicate: (data: Record<string, unknown>) => boolean = () => true): number {
    return client.messages.filter((m) => m.event === event && predicate(JSON.parse(m.data as string) as Record<string, unknown>)).length;
  }

  it.skipIf(!available)('delivers an event published through one node to pusher-js clients on the others', async () => {
    const [a, b, c] = await cluster(3);
    const received: string[] = [];
    for (const node of [b!, c!]) {
      const client = pusherClient(node);
      clients.push(client);
      await connected(client);
      const channel = client.subscribe('news');
      await withTimeout(new Promise((r) => channel.bind('pusher:subscription_succeeded', r)), 3000, 'subscribed');
      channel.bind('headline', (data: { n: number }) => received.push(`${node.port}:${data.n}`));
    }
    await sleep(200); // the upstream subscriptions reach Redis
    await serverSdk(a!).trigger('news', 'headline', { n: 1 });
    await eventually(() => received.length === 2, 3000, 'both remote clients');
    expect(received.sort()).toEqual([`${b!.port}:1`, `${c!.port}:1`].sort());
  });

  it.skipIf(!available)('answers a trigger’s info for all its channels with one cluster request, with every node’s counts', async () => {
    const [a, b] = await cluster(2);
    const sdk = serverSdk(a!);
    const here = await raw(a!);
    const there = await raw(b!);
    await subscribeRaw(here, sdk, 'c-1');
    await subscribeRaw(there, sdk, 'c-1');
    await subscribeRaw(there, sdk, 'c-5');
    const requests = async (): Promise<number> => (await clusterMetrics.requests.get()).values.reduce((n, v) => n + v.value, 0);
    const before = await requests();
    const channels = Array.from({ length: 10 }, (_, i) => `c-${i}`);
    const answer = await sdk.trigger(channels, 'e', {}, { info: 'subscription_count' });
    const body = (await answer.json()) as { channels: Record<string, { subscription_count: number }> };
    expect(body.channels['c-1']).toEqual({ subscription_count: 2 });
    expect(body.channels['c-5']).toEqual({ subscription_count: 1 });
    expect(body.channels['c-9']).toEqual({ subscription_count: 0 });
    expect(await requests()).toBe(before + 1);
  });

  it.skipIf(!available)('keeps presence cluster-wide: one member per user, listed from every node, added and removed once', async () => {
    const [a, b, c] = await cluster(3);
    const sdk = serverSdk(a!);
    const observer = await raw(c!);
    await subscribeRaw(observer, sdk, 'presence-room', { user_id: 'u9', user_info: { name: 'observer' } });

    const onA = await raw(a!);
    await subscribeRaw(onA, sdk, 'presence-room', { user_id: 'u1', user_info: { name: 'one' } });
    await observer.next((m) => m.event === 'pusher_internal:member_added');
    const onB = await raw(b!);
    const succeeded = await subscribeRaw(onB, sdk, 'presence-room', { user_id: 'u1', user_info: { name: 'one' } });
    const presence = (JSON.parse(succeeded.data as string) as { presence: { ids: string[]; count: number } }).presence;
    expect(presence.ids.sort()).toEqual(['u1', 'u9']);
    expect(presence.count).toBe(2);

    // Queries through any node answer for the cluster.
    const users = (await (await sdk.get({ path: '/channels/presence-room/users' })).json()) as { users: Array<{ id: string }> };
    expect(users.users.map((u) => u.id).sort()).toEqual(['u1', 'u9']);
    const info = (await (await serverSdk(b!).get({ path: '/channels/presence-room', params: { info: 'user_count,subscription_count' } })).json()) as Record<
      string,
      unknown
    >;
    expect(info).toMatchObject({ occupied: true, user_count: 2, subscription_count: 3 });

    onA.close();
    await sleep(500);
    expect(count(observer, 'pusher_internal:member_removed')).toBe(0); // still there through B
    onB.close();
    await observer.next((m) => m.event === 'pusher_internal:member_removed');
    await sleep(300);
    expect(count(observer, 'pusher_internal:member_added', (d) => d.user_id === 'u1')).toBe(1);
    expect(count(observer, 'pusher_internal:member_removed', (d) => d.user_id === 'u1')).toBe(1);
  });

  it.skipIf(!available)('relays client events across nodes, never back to the sender', async () => {
    const [a, b] = await cluster(2);
    const sdk = serverSdk(a!);
    const sender = await raw(a!);
    const receiver = await raw(b!);
    await subscribeRaw(sender, sdk, 'private-chat');
    await subscribeRaw(receiver, sdk, 'private-chat');
    await sleep(200);
    sender.send({ event: 'client-typing', channel: 'private-chat', data: { who: 'sender' } });
    const got = await receiver.event('client-typing');
    expect(got.data).toEqual({ who: 'sender' });
    await sleep(200);
    expect(sender.messages.some((m) => m.event === 'client-typing')).toBe(false);
  });

  it.skipIf(!available)('lists channels and terminates a user on every node', async () => {
    const [a, b, c] = await cluster(3);
    const sdk = serverSdk(a!);
    const sessions: RawClient[] = [];
    for (const node of [b!, c!]) {
      const client = await raw(node);
      const signed = sdk.authenticateUser(client.socketId, { id: 'u5' });
      client.send({ event: 'pusher:signin', data: signed });
      await client.event('pusher:signin_success');
      await subscribeRaw(client, sdk, `room-${node.port}`);
      sessions.push(client);
    }
    const channels = (await (await sdk.get({ path: '/channels' })).json()) as { channels: Record<string, unknown> };
    expect(Object.keys(channels.channels).sort()).toEqual([`room-${b!.port}`, `room-${c!.port}`].sort());

    await sdk.terminateUserConnections('u5');
    const codes = await Promise.all(sessions.map((s) => s.closed(3000)));
    expect(codes).toEqual([4009, 4009]);
  });

  /** The next event on a cache channel after subscribing: its last event or `pusher:cache_miss`. */
  async function cacheWelcome(node: RunningNode, sdk: Pusher, channel: string): Promise<{ event: string; data?: unknown }> {
    const client = await raw(node);
    const succeeded = await subscribeRaw(client, sdk, channel);
    expect(succeeded.event).toBe('pusher_internal:subscription_succeeded');
    const from = client.messages.indexOf(succeeded) + 1;
    return client.next((m) => m.channel === channel && !m.event.startsWith('pusher_internal:'), 3000, from);
  }

  it.skipIf(!available)("gives a cache channel's first subscriber on any node the last event published anywhere, never a stale one", async () => {
    const [a, b] = await cluster(2);
    const sdk = serverSdk(a!);
    // Nobody subscribed anywhere when it is published: only A has seen it.
    await sdk.trigger('cache-scores', 'score', { v: 1 });
    expect(await cacheWelcome(b!, sdk, 'cache-scores')).toMatchObject({ event: 'score', data: JSON.stringify({ v: 1 }) });

    // B's subscriber leaves; v2 is published while B has nobody: B's copy (v1) is stale and must not be served.
    for (const r of raws.splice(0)) r.close();
    await sleep(300);
    await sdk.trigger('cache-scores', 'score', { v: 2 });
    expect(await cacheWelcome(b!, sdk, 'cache-scores')).toMatchObject({ event: 'score', data: JSON.stringify({ v: 2 }) });
    // A second subscriber on B is answered from B's own (now current) copy.
    expect(await cacheWelcome(b!, sdk, 'cache-scores')).toMatchObject({ event: 'score', data: JSON.stringify({ v: 2 }) });

    expect((await cacheWelcome(b!, sdk, 'cache-never-published')).event).toBe('pusher:cache_miss');
  });

  /** Sign a raw client in, optionally with a watchlist. */
  async function signIn(node: RunningNode, sdk: Pusher, user: { id: string; watchlist?: string[] }): Promise<RawClient> {
    const client = await raw(node);
    client.send({ event: 'pusher:signin', data: sdk.authenticateUser(client.socketId, user) });
    await client.event('pusher:signin_success');
    return client;
  }

  /** Watchlist events a client got, flattened to 'online:id' / 'offline:id'. */
  function watchlistSeen(client: RawClient): string[] {
    return client.messages
      .filter((m) => m.event === 'pusher_internal:watchlist_events')
      .flatMap((m) =>
        (JSON.parse(m.data as string) as { events: Array<{ name: string; user_ids: string[] }> }).events.flatMap((e) =>
          e.user_ids.map((id) => `${e.name}:${id}`),
        ),
      );
  }

  it.skipIf(!available)('tells watchers on every node when a user comes online and goes offline anywhere, node death included', async () => {
    const [a, b, c] = await cluster(3);
    const sdk = serverSdk(a!);
    const watcher = await signIn(b!, sdk, { id: 'watcher', watchlist: ['ana', 'bob'] });

    const ana = await signIn(a!, sdk, { id: 'ana' });
    await eventually(() => watchlistSeen(watcher).includes('online:ana'), 3000, 'ana online on B');
    // A second socket of ana on another node changes nothing; closing one of two changes nothing.
    const anaAgain = await signIn(c!, sdk, { id: 'ana' });
    // Nodes do not order each other's messages: B must have heard from C before A's news can count as "one of two".
    await eventually(() => b!.cluster!.userNodeCountElsewhere(DEV_APP.id, 'ana') === 2, 3000, 'B to know ana on A and C');
    ana.close();
    await sleep(500);
    expect(watchlistSeen(watcher)).toEqual(['online:ana']);
    anaAgain.close();
    await eventually(() => watchlistSeen(watcher).includes('offline:ana'), 3000, 'ana offline on B');

    // A watcher signing in later learns who is online elsewhere at once.
    await signIn(c!, sdk, { id: 'bob' });
    await sleep(300);
    const late = await signIn(a!, sdk, { id: 'late', watchlist: ['bob'] });
    await eventually(() => watchlistSeen(late).includes('online:bob'), 3000, 'bob listed online for a late watcher');

    // C dies without a word (its link drops, its heartbeats stop): bob goes offline within the node timeout.
    await c!.cluster!.stop(false);
    await eventually(() => watchlistSeen(watcher).includes('offline:bob') && watchlistSeen(late).includes('offline:bob'), 5000, 'bob offline after C died');
    expect(watchlistSeen(watcher).filter((e) => e === 'offline:bob')).toHaveLength(1);
  });

  it.skipIf(!available)('enforces maxPresenceMembersPerChannel on the members of every node, each user counted once', async () => {
    const [a, b, c] = await cluster(3, { maxPresenceMembersPerChannel: 2 });
    const sdk = serverSdk(a!);
    const first = await raw(a!);
    expect((await subscribeRaw(first, sdk, 'presence-small', { user_id: 'u1' })).event).toBe('pusher_internal:subscription_succeeded');
    // B's first subscriber: B has nobody locally, the cluster has u1.
    expect((await subscribeRaw(await raw(b!), sdk, 'presence-small', { user_id: 'u2' })).event).toBe('pusher_internal:subscription_succeeded');
    // The limit is eventually consistent: once A has heard of u2 (its member sees member_added), A is full too.
    await first.next((m) => m.event === 'pusher_internal:member_added', 3000);
    const refused = await subscribeRaw(await raw(a!), sdk, 'presence-small', { user_id: 'u3' });
    expect(refused.event).toBe('pusher:subscription_error');
    const refusedOnB = await subscribeRaw(await raw(b!), sdk, 'presence-small', { user_id: 'u3' });
    expect(refusedOnB.event).toBe('pusher:subscription_error');
    // C has nobody on the channel: its first subscriber waits for the others' members, then is refused too.
    expect((await subscribeRaw(await raw(c!), sdk, 'presence-small', { user_id: 'u4' })).event).toBe('pusher:subscription_error');
    // A member already in (through another node) may open more sockets anywhere.
    expect((await subscribeRaw(await raw(b!), sdk, 'presence-small', { user_id: 'u1' })).event).toBe('pusher_internal:subscription_succeeded');
    const users = (await (await sdk.get({ path: '/channels/presence-small/users' })).json()) as { users: Array<{ id: string }> };
    expect(users.users.map((u) => u.id).sort()).toEqual(['u1', 'u2']);
  });

  it.skipIf(!available)('keeps delivering locally while the broker is down, says so, and resumes cross-node within 5 s of its return', async () => {
    const [a, b] = await cluster(2);
    const sdk = serverSdk(a!);
    const local = await raw(a!);
    const remote = await raw(b!);
    await subscribeRaw(local, sdk, 'live');
    await subscribeRaw(remote, sdk, 'live');
    await sleep(200);

    await broker.kill();
    try {
      await eventually(() => a!.cluster!.degraded.degraded, 3000, 'A degraded');
      const res = await sdk.trigger('live', 'during', { n: 1 });
      expect(res.status).toBe(200);
      await local.event('during');
      const ready = await fetch(`http://127.0.0.1:${a!.port}/ready`);
      expect(await ready.json()).toMatchObject({ degraded: true });
      const metricsText = await (await fetch(`http://127.0.0.1:${a!.port}/metrics`)).text();
      expect(metricsText).toMatch(/switchboard_cluster_messages_skipped_total\{kind="publish"\} [1-9]/);
    } finally {
      await broker.restart();
    }
    const back = Date.now();
    await eventually(
      () => {
        if (!a!.cluster!.degraded.degraded) void sdk.trigger('live', 'after', {});
        return remote.messages.some((m) => m.event === 'after');
      },
      5000,
      'cross-node delivery after the broker returned',
    );
    expect(Date.now() - back).toBeLessThan(5000);
    expect(remote.messages.some((m) => m.event === 'during')).toBe(false);
  });
});
