import type Pusher from 'pusher';
import { describe, expect, it } from 'vitest';
import type { RunningNode } from '../../src/node.js';
import { CloseCode } from '../../src/protocol/codes.js';
import { useTestResources } from '../helpers/lifecycle.js';
import { DEV_APP, nextEmit, rawSubscribe, record, serverSdk, sleep, subscribed, until, type PusherJs, type RawClient } from '../helpers/node.js';

// Client events (`client-*`) between real pusher-js clients, and their limits seen on a raw socket.

const res = useTestResources();

/** A connected pusher-js client authorised by the SDK; `userId` names it on presence channels. */
function authedClient(node: RunningNode, sdk: Pusher, userId?: string): Promise<PusherJs> {
  return res.authedPusher(node, sdk, userId === undefined ? undefined : { user_id: userId });
}

/** A raw socket subscribed to `channel`. */
async function rawOn(node: RunningNode, channel: string, userId?: string): Promise<RawClient> {
  const raw = await res.raw(node);
  await rawSubscribe(raw, channel, userId === undefined ? undefined : { user_id: userId });
  return raw;
}

/** A server event through the SDK, awaited at `raw`: everything the node sent `raw` earlier has arrived. */
async function flushedRaw(sdk: Pusher, raw: RawClient, channel: string): Promise<void> {
  const marker = `marker-${Math.random().toString(36).slice(2)}`;
  await sdk.trigger(channel, marker, {});
  await raw.event(marker);
}

/**
 * `sender` sends client event `event` on `channel`: it must get a `pusher:error` (no code) whose
 * message matches `reason`, and `listener`, subscribed there, must never receive the event.
 */
async function expectRefused(refusal: { sdk: Pusher; sender: RawClient; listener: RawClient; channel: string; event: string; reason: RegExp }): Promise<void> {
  const { sdk, sender, listener, channel, event, reason } = refusal;
  sender.send({ event, channel, data: {} });
  const error = await sender.event('pusher:error');
  expect(error.data).toMatchObject({ code: null, message: expect.stringMatching(reason) });
  await flushedRaw(sdk, listener, channel);
  expect(listener.messages.filter((m) => m.event === event)).toEqual([]);
}

describe('relaying', () => {
  it('relays a client event on a private channel to the others, never back to the sender', async () => {
    const node = await res.node();
    const sdk = serverSdk(node);
    const sender = await authedClient(node, sdk);
    const receiver = await authedClient(node, sdk);
    const senderChannel = await subscribed(sender, 'private-doc');
    const receiverChannel = await subscribed(receiver, 'private-doc');
    const echoes = record(senderChannel, 'client-typing');

    const got = nextEmit(receiverChannel, 'client-typing');
    expect(senderChannel.trigger('client-typing', { who: 'me' })).toBe(true);
    expect(await got).toEqual({ who: 'me' });

    const marker = nextEmit(senderChannel, 'after');
    await sdk.trigger('private-doc', 'after', {});
    await marker;
    expect(echoes).toEqual([]);
  });

  it("adds the sender's user_id on a presence channel", async () => {
    const node = await res.node();
    const sdk = serverSdk(node);
    const sender = await authedClient(node, sdk, 'carol');
    const senderChannel = await subscribed(sender, 'presence-lobby');
    const watcher = await rawOn(node, 'presence-lobby', 'dave');

    senderChannel.trigger('client-wave', { hi: true });
    const relayed = await watcher.event('client-wave');
    expect(relayed).toMatchObject({ channel: 'presence-lobby', data: { hi: true }, user_id: 'carol' });
  });
});

describe('refusals', () => {
  it('refuses client events when the app disables them', async () => {
    const node = await res.node({ apps: [{ ...DEV_APP, enableClientEvents: false }] });
    const sdk = serverSdk(node);
    const sender = await rawOn(node, 'private-quiet');
    const listener = await rawOn(node, 'private-quiet');

    await expectRefused({ sdk, sender, listener, channel: 'private-quiet', event: 'client-psst', reason: /not enabled/i });
  });

  it('refuses client events on a public channel', async () => {
    const node = await res.node();
    const sdk = serverSdk(node);
    const sender = await rawOn(node, 'lobby');
    const listener = await rawOn(node, 'lobby');

    await expectRefused({ sdk, sender, listener, channel: 'lobby', event: 'client-shout', reason: /private and presence/i });
  });

  it('refuses a client event on a channel the sender has not joined', async () => {
    const node = await res.node();
    const sdk = serverSdk(node);
    const outsider = await res.raw(node);
    await outsider.event('pusher:connection_established');
    const member = await rawOn(node, 'private-club');

    await expectRefused({ sdk, sender: outsider, listener: member, channel: 'private-club', event: 'client-gatecrash', reason: /not subscribed/i });
  });
});

describe('rate limit', () => {
  it('passes 10 client events per second per connection and answers the rest with pusher:error 4301', async () => {
    const node = await res.node();
    const sdk = serverSdk(node);
    const sender = await rawOn(node, 'private-chatty');
    const listener = await rawOn(node, 'private-chatty');

    const burst = 25;
    for (let i = 0; i < burst; i++) sender.send({ event: 'client-msg', channel: 'private-chatty', data: { i } });
    await until(() => countErrors(sender) >= 5, 3000, 'rate-limit errors');
    await flushedRaw(sdk, listener, 'private-chatty');

    const delivered = listener.messages.filter((m) => m.event === 'client-msg');
    const errors = sender.messages.filter((m) => m.event === 'pusher:error');
    // The limit is per one-second window: a burst may straddle a window edge, so at most two windows' worth pass.
    expect(delivered.length + errors.length).toBe(burst);
    expect(delivered.length).toBeGreaterThanOrEqual(10);
    expect(delivered.length).toBeLessThanOrEqual(20);
    for (const error of errors) expect(error.data).toMatchObject({ code: CloseCode.ClientEventRateLimit });
    // The first ten always pass, and whatever passed arrives in the order it was sent.
    const passed = delivered.map((m) => (m.data as { i: number }).i);
    expect(passed.slice(0, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...passed].sort((a, b) => a - b)).toEqual(passed);

    // The connection stays open, and a new window lets events through again.
    await sleep(1100);
    const before = delivered.length;
    sender.send({ event: 'client-msg', channel: 'private-chatty', data: { i: 'later' } });
    await listener.next((m) => m.event === 'client-msg' && (m.data as { i: unknown }).i === 'later');
    expect(sender.closeCode).toBeUndefined();
    expect(listener.messages.filter((m) => m.event === 'client-msg')).toHaveLength(before + 1);
  });
});

function countErrors(client: RawClient): number {
  return client.messages.filter((m) => m.event === 'pusher:error').length;
}
