import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/config/schema.js';
import type { RunningNode } from '../../src/node.js';
import type { WebhookEvent } from '../../src/webhooks/types.js';
import { DEV_APP, RawClient, connected, pusherClient, rawSubscribe, serverSdk, sleep, startTestNode, subscribed, type PusherJs } from '../helpers/node.js';
import { Receiver, validBySdk, type Received } from './helpers.js';

const APP = DEV_APP;

/**
 * Real transitions, caused by real pusher-js clients and raw sockets on a
 * real node, arriving at a real receiver: each verified with the pusher
 * SDK's webhook() check.
 */
const LEAVE_DELAY_S = 0.6;

let receiver: Receiver;
const nodes: RunningNode[] = [];
const clients: PusherJs[] = [];
const raws: RawClient[] = [];

beforeAll(async () => {
  receiver = await Receiver.start();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  for (const r of raws.splice(0)) r.close();
  await Promise.all(nodes.splice(0).map((n) => n.stop({ drainSeconds: 0 })));
  receiver.requests.length = 0;
});
afterAll(async () => {
  await receiver.close();
});

const ALL_EVENTS = ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed', 'client_event', 'cache_miss', 'subscription_count'] as const;

async function node(app: Record<string, unknown> = {}, overrides: Partial<ConfigInput> = {}): Promise<RunningNode> {
  const started = await startTestNode({
    webhookBatchMs: 20,
    webhookLeaveDelay: LEAVE_DELAY_S,
    apps: [{ ...APP, enableClientEvents: true, webhooks: [{ url: receiver.url('/all'), eventTypes: [...ALL_EVENTS] }], ...app }],
    ...overrides,
  });
  nodes.push(started);
  return started;
}

function client(n: RunningNode, user?: string): PusherJs {
  const sdk = serverSdk(n, APP);
  const c = pusherClient(
    n,
    {
      channelAuthorization: {
        customHandler: (params: { socketId: string; channelName: string }, callback: (e: Error | null, auth: unknown) => void) =>
          callback(
            null,
            params.channelName.startsWith('presence-')
              ? sdk.authorizeChannel(params.socketId, params.channelName, { user_id: user ?? 'anon', user_info: { name: user } })
              : sdk.authorizeChannel(params.socketId, params.channelName),
          ),
      } as never,
    },
    APP.key,
  );
  clients.push(c);
  return c;
}

/** Every event received so far on `path`, in order, after checking every request with the SDK. */
function events(path = '/all'): WebhookEvent[] {
  const got = receiver.at(path);
  for (const r of got) expect(validBySdk(r, APP), `signature of ${r.rawBody}`).toBe(true);
  return got.flatMap((r: Received) => r.body.events);
}

async function eventsSoon(count: number, path = '/all', ms = 5000): Promise<WebhookEvent[]> {
  const deadline = Date.now() + ms;
  while (events(path).length < count && Date.now() < deadline) await sleep(20);
  return events(path);
}

describe('webhooks from real transitions on one node', () => {
  it('sends channel_occupied on the first subscriber and channel_vacated after the leave delay, once', async () => {
    const n = await node();
    const a = client(n);
    const b = client(n);
    await Promise.all([connected(a), connected(b)]);
    await subscribed(a, 'news');
    await subscribed(b, 'news');
    expect(await eventsSoon(1)).toEqual([{ name: 'channel_occupied', channel: 'news' }]);
    a.unsubscribe('news');
    b.unsubscribe('news');
    await sleep(LEAVE_DELAY_S * 1000 * 0.5);
    expect(events()).toHaveLength(1); // still inside the delay
    expect(await eventsSoon(2)).toEqual([
      { name: 'channel_occupied', channel: 'news' },
      { name: 'channel_vacated', channel: 'news' },
    ]);
    await sleep(300);
    expect(events()).toHaveLength(2);
  });

  it('sends nothing for a page refresh: the same user leaves and is back within the delay', async () => {
    const n = await node();
    const first = client(n, 'ana');
    await connected(first);
    await subscribed(first, 'presence-room');
    expect(await eventsSoon(2)).toEqual([
      { name: 'channel_occupied', channel: 'presence-room' },
      { name: 'member_added', channel: 'presence-room', user_id: 'ana' },
    ]);
    first.disconnect();
    await sleep(100);
    const again = client(n, 'ana');
    await connected(again);
    await subscribed(again, 'presence-room');
    await sleep(LEAVE_DELAY_S * 1000 + 500);
    expect(events()).toHaveLength(2);

    // A leave without a return is sent: member_removed, then channel_vacated.
    again.disconnect();
    expect((await eventsSoon(4)).slice(2)).toEqual([
      { name: 'member_removed', channel: 'presence-room', user_id: 'ana' },
      { name: 'channel_vacated', channel: 'presence-room' },
    ]);
  });

  it('adds a member once however many sockets the user has, and removes them with the last', async () => {
    const n = await node();
    const laptop = client(n, 'bob');
    const phone = client(n, 'bob');
    await Promise.all([connected(laptop), connected(phone)]);
    await subscribed(laptop, 'presence-team');
    await subscribed(phone, 'presence-team');
    laptop.disconnect();
    await sleep(LEAVE_DELAY_S * 1000 + 300);
    expect(events().filter((e) => e.name.startsWith('member'))).toEqual([{ name: 'member_added', channel: 'presence-team', user_id: 'bob' }]);
    phone.disconnect();
    const all = await eventsSoon(4);
    expect(all.filter((e) => e.name.startsWith('member'))).toEqual([
      { name: 'member_added', channel: 'presence-team', user_id: 'bob' },
      { name: 'member_removed', channel: 'presence-team', user_id: 'bob' },
    ]);
  });

  it('sends client events with the sender’s socket id, and its user id on presence channels', async () => {
    const n = await node();
    const sender = await RawClient.connect(n);
    raws.push(sender);
    await rawSubscribe(sender, 'presence-chat', { user_id: 'carol', user_info: {} });
    await rawSubscribe(sender, 'private-notes');
    sender.send({ event: 'client-typing', channel: 'presence-chat', data: { on: true } });
    sender.send({ event: 'client-note', channel: 'private-notes', data: 'plain text' });
    const got = (await eventsSoon(5)).filter((e) => e.name === 'client_event');
    expect(got).toEqual([
      { name: 'client_event', channel: 'presence-chat', event: 'client-typing', data: '{"on":true}', socket_id: sender.socketId, user_id: 'carol' },
      { name: 'client_event', channel: 'private-notes', event: 'client-note', data: 'plain text', socket_id: sender.socketId },
    ]);
  });

  it('sends one cache_miss per empty spell, not one per subscriber', async () => {
    const n = await node();
    const a = client(n);
    const b = client(n);
    await Promise.all([connected(a), connected(b)]);
    await subscribed(a, 'cache-scores');
    await subscribed(b, 'cache-scores');
    await sleep(200);
    expect(events().filter((e) => e.name === 'cache_miss')).toEqual([{ name: 'cache_miss', channel: 'cache-scores' }]);
    // An event fills the cache: the next empty spell is a new one (after a TTL, or here: a new channel).
    await serverSdk(n, APP).trigger('cache-scores', 'score', { home: 1 });
    const c = client(n);
    await connected(c);
    await subscribed(c, 'cache-scores');
    await sleep(200);
    expect(events().filter((e) => e.name === 'cache_miss')).toHaveLength(1);
  });

  it('sends subscription_count on apps that count subscriptions, not on presence channels', async () => {
    const n = await node({ enableSubscriptionCount: true });
    const a = client(n);
    const b = client(n);
    await Promise.all([connected(a), connected(b)]);
    await subscribed(a, 'counted');
    await subscribed(b, 'counted');
    const all = await eventsSoon(3);
    const counts = all.filter((e) => e.name === 'subscription_count');
    expect(counts.at(-1)).toEqual({ name: 'subscription_count', channel: 'counted', subscription_count: 2 });
    expect(counts.length).toBeLessThanOrEqual(2);
  });

  it('gives each endpoint only what its event types and filter select', async () => {
    const n = await node({
      webhooks: [
        { url: receiver.url('/presence'), eventTypes: ['member_added', 'member_removed'], filter: { channelNameStartsWith: 'presence-' } },
        { url: receiver.url('/channels'), eventTypes: ['channel_occupied'], filter: { channelNameEndsWith: '-live' } },
      ],
    });
    const a = client(n, 'dan');
    await connected(a);
    await subscribed(a, 'presence-lobby');
    await subscribed(a, 'scores-live');
    await subscribed(a, 'other');
    expect(await eventsSoon(1, '/presence')).toEqual([{ name: 'member_added', channel: 'presence-lobby', user_id: 'dan' }]);
    expect(await eventsSoon(1, '/channels')).toEqual([{ name: 'channel_occupied', channel: 'scores-live' }]);
    await sleep(200);
    expect(events('/presence')).toHaveLength(1);
    expect(events('/channels')).toHaveLength(1);
  });

  it('sends the leaves still in their delay when a lone node stops', async () => {
    const n = await node();
    const a = client(n, 'eve');
    await connected(a);
    await subscribed(a, 'presence-bye');
    await eventsSoon(2);
    await n.stop({ drainSeconds: 0 });
    nodes.splice(nodes.indexOf(n), 1);
    expect((await eventsSoon(4)).slice(2)).toEqual([
      { name: 'member_removed', channel: 'presence-bye', user_id: 'eve' },
      { name: 'channel_vacated', channel: 'presence-bye' },
    ]);
  });
});
