import { randomBytes } from 'node:crypto';
import Pusher from 'pusher';
import { describe, expect, it } from 'vitest';
import type { RunningNode } from '../../src/node.js';
import { useTestResources } from '../helpers/lifecycle.js';
import { DEV_APP, nextEmit, rawSubscribe, record, serverSdk, sleep, subscribed, until, type PusherJs } from '../helpers/node.js';
import { channelsOf } from '../../src/core/connection.js';

// Channels through the real clients: pusher-js (Node build) subscribing, the pusher SDK publishing.

const res = useTestResources();

/** A pusher-js client whose auth endpoint is the real SDK; `userId` names it on presence channels. */
function authedClient(node: RunningNode, sdk: Pusher, userId?: string): Promise<PusherJs> {
  return res.authedPusher(node, sdk, userId === undefined ? undefined : { user_id: userId, user_info: { name: userId } });
}

/**
 * Publish a marker and wait for it: events are delivered in order, so anything the node
 * sent `client` before the marker has arrived once the marker has.
 */
async function flushed(sdk: Pusher, client: PusherJs, channelName: string): Promise<void> {
  const channel = client.channel(channelName);
  const marker = `m-${randomBytes(4).toString('hex')}`;
  const seen = nextEmit(channel, marker);
  await sdk.trigger(channelName, marker, {});
  await seen;
}

/** Wait until the node has forgotten a connection (its close was handled), so later checks are not racing it. */
async function nodeHasConnections(node: RunningNode, count: number): Promise<void> {
  await until(() => node.core.connections.size === count, 3000, `node did not reach ${count} connections`);
}

describe('public and private channels', () => {
  it('delivers an SDK event on a public channel to a pusher-js subscriber', async () => {
    const node = await res.node();
    const sdk = serverSdk(node);
    const client = res.pusher(node);
    const channel = await subscribed(client, 'news');
    const received = nextEmit(channel, 'headline');
    await sdk.trigger('news', 'headline', { title: 'hello' });
    expect(await received).toEqual({ title: 'hello' });
  });

  it('authorises a private channel through the SDK and delivers to it', async () => {
    const node = await res.node();
    const sdk = serverSdk(node);
    const client = await authedClient(node, sdk);
    const channel = await subscribed(client, 'private-orders');
    const received = nextEmit(channel, 'created');
    await sdk.trigger('private-orders', 'created', { id: 7 });
    expect(await received).toEqual({ id: 7 });
  });

  it('answers a badly signed private subscription with pusher:subscription_error and its status, and delivers nothing', async () => {
    const node = await res.node();
    const sdk = serverSdk(node);
    const impostor = new Pusher({ appId: DEV_APP.id, key: DEV_APP.key, secret: 'not-the-secret', host: '127.0.0.1', port: String(node.port) });
    const client = await authedClient(node, impostor);
    const channel = client.subscribe('private-vault');
    const events = record(channel, 'opened');
    const error = (await nextEmit(channel, 'pusher:subscription_error')) as { status: number; type: string };
    expect(error.status).toBe(401);
    expect(error.type).toBe('AuthError');
    expect(channel.subscribed).toBe(false);

    // The refused socket is no subscriber: a publish reaches a legitimate one and not it.
    const honest = await authedClient(node, sdk);
    const honestChannel = await subscribed(honest, 'private-vault');
    const delivered = nextEmit(honestChannel, 'opened');
    await sdk.trigger('private-vault', 'opened', {});
    await delivered;
    await sleep(50);
    expect(events).toEqual([]);
  });

  it('stops delivering after pusher-js unsubscribes', async () => {
    const node = await res.node();
    const sdk = serverSdk(node);
    const client = res.pusher(node);
    const news = await subscribed(client, 'news');
    await subscribed(client, 'control');
    const got = record(news, 'item');
    const first = nextEmit(news, 'item');
    await sdk.trigger('news', 'item', { n: 1 });
    await first;

    client.unsubscribe('news');
    await until(() => !isSubscribed(node, 'news'), 3000, 'unsubscribe not handled');
    await sdk.trigger('news', 'item', { n: 2 });
    await flushed(sdk, client, 'control');
    expect(got).toEqual([{ n: 1 }]);
  });
});

function isSubscribed(node: RunningNode, channelName: string): boolean {
  let found = false;
  for (const conn of node.core.connections) for (const channel of channelsOf(conn)) if (channel.name === channelName) found = true;
  return found;
}

describe('presence channels', () => {
  it('counts a user once across two sockets: member_added on the first join, member_removed on the last leave', async () => {
    const node = await res.node();
    const sdk = serverSdk(node);
    const observer = await authedClient(node, sdk, 'olga');
    const observed = await subscribed(observer, 'presence-room');
    const added = record(observed, 'pusher:member_added');
    const removed = record(observed, 'pusher:member_removed');

    const anaPhone = await authedClient(node, sdk, 'ana');
    await subscribed(anaPhone, 'presence-room');
    await until(() => added.length === 1, 3000, 'member_added for ana');
    expect(added[0]).toMatchObject({ id: 'ana', info: { name: 'ana' } });

    const anaLaptop = await authedClient(node, sdk, 'ana');
    const laptopRoom = members(await subscribed(anaLaptop, 'presence-room'));
    expect(laptopRoom.count).toBe(2);
    expect(laptopRoom.me).toMatchObject({ id: 'ana', info: { name: 'ana' } });
    await flushed(sdk, observer, 'presence-room');
    expect(added).toHaveLength(1);
    expect(members(observed).count).toBe(2);

    anaPhone.disconnect();
    await nodeHasConnections(node, 2);
    await flushed(sdk, observer, 'presence-room');
    expect(removed).toEqual([]);
    expect(members(observed).count).toBe(2);

    anaLaptop.disconnect();
    await until(() => removed.length === 1, 3000, 'member_removed for ana');
    expect(removed[0]).toMatchObject({ id: 'ana' });
    expect(members(observed).count).toBe(1);
    expect(members(observed).me).toMatchObject({ id: 'olga' });
  });

  it('refuses a new member past maxPresenceMembersPerChannel, but not another socket of a member', async () => {
    const node = await res.node({ apps: [{ ...DEV_APP, maxPresenceMembersPerChannel: 2 }] });
    const sdk = serverSdk(node);
    await subscribed(await authedClient(node, sdk, 'u1'), 'presence-small');
    await subscribed(await authedClient(node, sdk, 'u2'), 'presence-small');

    const third = await authedClient(node, sdk, 'u3');
    const channel = third.subscribe('presence-small');
    const error = (await nextEmit(channel, 'pusher:subscription_error')) as { status: number; type: string };
    expect(error.status).toBe(403);
    expect(error.type).toBe('LimitReached');

    const u1Again = members(await subscribed(await authedClient(node, sdk, 'u1'), 'presence-small'));
    expect(u1Again.count).toBe(2);
  });
});

/** The members of a pusher-js presence channel (`subscribe` is typed as returning a plain Channel). */
function members(channel: object): { count: number; me: { id: string; info: unknown } | null } {
  return (channel as unknown as { members: { count: number; me: { id: string; info: unknown } | null } }).members;
}

describe('encrypted channels', () => {
  const encryptionMasterKeyBase64 = randomBytes(32).toString('base64');

  it('relays the ciphertext untouched: pusher-js decrypts it, a raw socket sees only nonce and ciphertext', async () => {
    const node = await res.node();
    const sdk = new Pusher({
      appId: DEV_APP.id,
      key: DEV_APP.key,
      secret: DEV_APP.secret,
      host: '127.0.0.1',
      port: String(node.port),
      encryptionMasterKeyBase64,
    });
    const client = await authedClient(node, sdk);
    const channel = await subscribed(client, 'private-encrypted-diary');
    const raw = await res.raw(node);
    await rawSubscribe(raw, 'private-encrypted-diary');

    const decrypted = nextEmit(channel, 'entry');
    await sdk.trigger('private-encrypted-diary', 'entry', { text: 'top secret' });
    expect(await decrypted).toEqual({ text: 'top secret' });

    const onWire = await raw.event('entry');
    const envelope = JSON.parse(onWire.data as string) as Record<string, unknown>;
    expect(Object.keys(envelope).sort()).toEqual(['ciphertext', 'nonce']);
    expect(JSON.stringify(onWire)).not.toContain('top secret');
  });

  it('refuses client events on an encrypted channel and relays none', async () => {
    const node = await res.node();
    const sdk = new Pusher({
      appId: DEV_APP.id,
      key: DEV_APP.key,
      secret: DEV_APP.secret,
      host: '127.0.0.1',
      port: String(node.port),
      encryptionMasterKeyBase64,
    });
    const listener = await authedClient(node, sdk);
    const channel = await subscribed(listener, 'private-encrypted-chat');
    const relayed = record(channel, 'client-whisper');
    const raw = await res.raw(node);
    await rawSubscribe(raw, 'private-encrypted-chat');

    raw.send({ event: 'client-whisper', channel: 'private-encrypted-chat', data: { nonce: 'x', ciphertext: 'y' } });
    const error = await raw.event('pusher:error');
    expect(error.data).toMatchObject({ code: null, message: expect.stringMatching(/encrypted/i) });
    await flushed(sdk, listener, 'private-encrypted-chat');
    expect(relayed).toEqual([]);
  });
});

describe('cache channels', () => {
  it('replays the last event to a new subscriber', async () => {
    const node = await res.node();
    const sdk = serverSdk(node);
    await sdk.trigger('cache-prices', 'tick', { price: 1 });
    await sdk.trigger('cache-prices', 'tick', { price: 2 });
    const client = res.pusher(node);
    const channel = client.subscribe('cache-prices');
    expect(await nextEmit(channel, 'tick')).toEqual({ price: 2 });
  });

  it('sends pusher:cache_miss when nothing is cached', async () => {
    const node = await res.node();
    const client = res.pusher(node);
    const channel = client.subscribe('cache-empty');
    const ticks = record(channel, 'tick');
    await nextEmit(channel, 'pusher:cache_miss');
    expect(ticks).toEqual([]);
  });

  it('forgets the cached event after cacheTtlSeconds', async () => {
    const node = await res.node({ cacheTtlSeconds: 1 });
    const sdk = serverSdk(node);
    await sdk.trigger('cache-short', 'tick', { price: 3 });
    const early = res.pusher(node);
    expect(await nextEmit(early.subscribe('cache-short'), 'tick')).toEqual({ price: 3 });

    await sleep(1200);
    const late = res.pusher(node);
    const channel = late.subscribe('cache-short');
    const ticks = record(channel, 'tick');
    await nextEmit(channel, 'pusher:cache_miss');
    expect(ticks).toEqual([]);
  });
});

describe('subscription count', () => {
  it('tells subscribers how many sockets share the channel when the app enables it', async () => {
    const node = await res.node({ apps: [{ ...DEV_APP, enableSubscriptionCount: true }] });
    const first = res.pusher(node);
    const channel = await subscribed(first, 'crowd');
    const second = res.pusher(node);
    await subscribed(second, 'crowd');
    await until(() => (channel.subscriptionCount as number | null) === 2, 3000, 'subscriptionCount 2');

    second.disconnect();
    const update = (await nextEmit(channel, 'pusher:subscription_count')) as { subscription_count: number };
    expect(update.subscription_count).toBe(1);
  });

  it('sends no count when the app leaves it off', async () => {
    const node = await res.node();
    const first = res.pusher(node);
    const channel = await subscribed(first, 'crowd');
    const counts = record(channel, 'pusher:subscription_count');
    await subscribed(res.pusher(node), 'crowd');
    await sleep(400); // longer than the node's 200 ms count debounce
    expect(counts).toEqual([]);
  });
});

describe('ordering', () => {
  it('delivers 500 sequential events in order to 3 subscribers and none to a socket on another channel', async () => {
    const node = await res.node();
    const sdk = serverSdk(node);
    const sequences = await Promise.all(
      [0, 1, 2].map(async () => {
        const channel = await subscribed(res.pusher(node), 'ordered');
        return record(channel, 'seq');
      }),
    );
    const elsewhere = await res.raw(node);
    await rawSubscribe(elsewhere, 'elsewhere');

    const total = 500;
    for (let n = 0; n < total; n++) await sdk.trigger('ordered', 'seq', { n });
    await until(() => sequences.every((s) => s.length >= total), 10_000, 'all 500 events at every subscriber');
    const expected = Array.from({ length: total }, (_, n) => ({ n }));
    for (const seen of sequences) expect(seen).toEqual(expected);
    expect(elsewhere.messages.filter((m) => m.event === 'seq' || m.channel === 'ordered')).toEqual([]);
  }, 30_000);
});
