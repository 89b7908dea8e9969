import type Pusher from 'pusher';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AppState } from '../../src/core/app-state.js';
import type { RunningNode } from '../../src/node.js';
import { errorCatalogue, ErrorCode, type ErrorCodeName } from '../../src/protocol/errors.js';
import { signChannelAuth, signUserAuth } from '../../src/protocol/signatures.js';
import { Bystander, DEV_APP, serverSdk, startTestNode, TestResources, until, type RawClient } from '../helpers/node.js';
import { channelCount } from '../../src/core/connection.js';

// What pusher-js would never send, sent on a raw socket. Each frame gets the catalogue's answer,
// the abusive socket stays open, and a well-behaved client on the same node keeps receiving,
// in order, while it happens and afterwards.

let node: RunningNode;
let sdk: Pusher;
let bystander: Bystander;
let res: TestResources;

beforeAll(async () => {
  node = await startTestNode({ apps: [{ ...DEV_APP, maxPresenceMemberSizeKb: 0.5 }] });
  sdk = serverSdk(node);
  bystander = await Bystander.join(node, sdk);
});
afterAll(async () => {
  bystander.disconnect();
  await node.stop({ drainSeconds: 0 });
});
beforeEach(() => {
  res = new TestResources();
});
afterEach(async () => {
  await res.dispose();
  await bystander.assertIntact();
});

async function abuser(): Promise<RawClient> {
  const raw = await res.raw(node);
  await raw.event('pusher:connection_established');
  return raw;
}

/** Send `frame` and return the `pusher:error` it is answered with. */
async function errorFor(raw: RawClient, frame: unknown): Promise<{ code: unknown; message: string }> {
  const from = raw.messages.length;
  raw.send(frame);
  const answer = await raw.next((m) => m.event === 'pusher:error', 3000, from);
  return answer.data as { code: unknown; message: string };
}

/** Send a subscribe and return its `pusher:subscription_error` data. */
async function subscriptionErrorFor(raw: RawClient, data: object): Promise<{ status: number; type: string; error: string }> {
  const from = raw.messages.length;
  raw.send({ event: 'pusher:subscribe', data });
  const answer = await raw.next((m) => m.event === 'pusher:subscription_error' || m.event === 'pusher_internal:subscription_succeeded', 3000, from);
  expect(answer.event).toBe('pusher:subscription_error');
  return answer.data as { status: number; type: string; error: string };
}

function expectCatalogue(error: { code: unknown; message: string }, code: ErrorCodeName): void {
  expect(error.code).toBe(errorCatalogue[code].pusherCode);
  expect(error.message.startsWith(errorCatalogue[code].message)).toBe(true);
}

const longName = 'x'.repeat(250);

const badFrames: Array<[string, unknown, ErrorCodeName]> = [
  ['malformed JSON', '{"event":"pusher:subscribe",', ErrorCode.InvalidJson],
  ['an empty frame', '', ErrorCode.InvalidJson],
  ['a JSON array', '[{"event":"pusher:ping"}]', ErrorCode.FrameNotObject],
  ['JSON null', 'null', ErrorCode.FrameNotObject],
  ['a bare number', '42', ErrorCode.FrameNotObject],
  ['a bare string', '"pusher:ping"', ErrorCode.FrameNotObject],
  ['an object without event', { data: {} }, ErrorCode.MissingField],
  ['an event that is a number', { event: 7 }, ErrorCode.InvalidField],
  ['an event that is an object', { event: { name: 'pusher:ping' } }, ErrorCode.InvalidField],
  ['an empty event', { event: '' }, ErrorCode.InvalidField],
  ['an event name over 200 characters', { event: longName }, ErrorCode.EventNameTooLong],
  ['subscribe whose data is a number', { event: 'pusher:subscribe', data: 5 }, ErrorCode.InvalidField],
  ['subscribe whose data is an array', { event: 'pusher:subscribe', data: ['news'] }, ErrorCode.InvalidField],
  ['subscribe whose data is null', { event: 'pusher:subscribe', data: null }, ErrorCode.MissingField],
  ['subscribe without data', { event: 'pusher:subscribe' }, ErrorCode.MissingField],
  ['subscribe whose data is a string of garbage', { event: 'pusher:subscribe', data: '{nope' }, ErrorCode.InvalidField],
  ['subscribe whose channel is an object', { event: 'pusher:subscribe', data: { channel: { name: 'news' } } }, ErrorCode.InvalidField],
  ['subscribe whose channel is an array', { event: 'pusher:subscribe', data: { channel: ['news'] } }, ErrorCode.InvalidField],
  ['subscribe whose channel is a number', { event: 'pusher:subscribe', data: { channel: 12 } }, ErrorCode.InvalidField],
  ['subscribe whose channel is null', { event: 'pusher:subscribe', data: { channel: null } }, ErrorCode.MissingField],
  ['subscribe to an invalid channel name', { event: 'pusher:subscribe', data: { channel: 'has space' } }, ErrorCode.InvalidChannelName],
  ['subscribe to a bare private- prefix', { event: 'pusher:subscribe', data: { channel: 'private-' } }, ErrorCode.InvalidChannelName],
  ['subscribe to a channel name over 200 characters', { event: 'pusher:subscribe', data: { channel: longName } }, ErrorCode.ChannelNameTooLong],
  ['subscribe whose auth is a number', { event: 'pusher:subscribe', data: { channel: 'private-x', auth: 5 } }, ErrorCode.InvalidField],
  [
    'subscribe whose channel_data is an object',
    { event: 'pusher:subscribe', data: { channel: 'presence-x', auth: 'k:s', channel_data: { user_id: 'u' } } },
    ErrorCode.InvalidField,
  ],
  ['unsubscribe whose channel is a number', { event: 'pusher:unsubscribe', data: { channel: 3 } }, ErrorCode.InvalidField],
  ['signin whose data is a number', { event: 'pusher:signin', data: 1 }, ErrorCode.InvalidField],
  ['signin without auth', { event: 'pusher:signin', data: { user_data: '{"id":"u"}' } }, ErrorCode.MissingField],
  ['signin without user_data', { event: 'pusher:signin', data: { auth: 'k:s' } }, ErrorCode.MissingField],
  ['an unknown pusher: event', { event: 'pusher:teleport', data: {} }, ErrorCode.UnknownEvent],
  ['an unknown event', { event: 'hello', data: {} }, ErrorCode.UnknownEvent],
  ['a client event without a channel', { event: 'client-x', data: {} }, ErrorCode.MissingField],
  ['a client event whose channel is an object', { event: 'client-x', channel: {}, data: {} }, ErrorCode.InvalidField],
];

describe('malformed frames', () => {
  it('answers every malformed frame with its catalogue pusher:error and keeps the socket open', async () => {
    const raw = await abuser();
    const publishing = bystander.publish(20);
    for (const [what, frame, code] of badFrames) {
      const error = await errorFor(raw, frame);
      try {
        expectCatalogue(error, code);
      } catch (err) {
        throw new Error(`${what}: expected ${code}, got ${JSON.stringify(error)}`, { cause: err });
      }
    }
    await publishing;
    expect(raw.closeCode).toBeUndefined();
    // Still a working connection: it can subscribe and receive.
    raw.send({ event: 'pusher:subscribe', data: { channel: 'bystander' } });
    await raw.next((m) => m.event === 'pusher_internal:subscription_succeeded' && m.channel === 'bystander');
    await bystander.publish(1);
    await raw.event('seq');
  });

  it('answers a binary frame with pusher:error and keeps the socket open', async () => {
    const raw = await abuser();
    raw.ws.send(Buffer.from(JSON.stringify({ event: 'pusher:ping', data: {} })), { binary: true });
    const answer = await raw.next((m) => m.event === 'pusher:error' || m.event === 'pusher:pong');
    expectCatalogue(answer.data as { code: unknown; message: string }, ErrorCode.BinaryNotSupported);
    const pong = await errorOrPong(raw);
    expect(pong).toBe('pusher:pong');
    await bystander.publish(3);
  });

  it('closes a text frame that is not UTF-8 with 1007 and nothing else', async () => {
    const raw = await abuser();
    raw.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect(await raw.closed()).toBe(1007);
    await bystander.publish(3);
  });
});

async function errorOrPong(raw: RawClient): Promise<string> {
  const from = raw.messages.length;
  raw.send({ event: 'pusher:ping', data: {} });
  return (await raw.next((m) => m.event === 'pusher:error' || m.event === 'pusher:pong', 3000, from)).event;
}

describe('forged and broken authorisation', () => {
  it('refuses forged, replayed and unsigned private subscriptions with status 401', async () => {
    const raw = await abuser();
    const other = await abuser();
    const publishing = bystander.publish(10);

    const forged = await subscriptionErrorFor(raw, { channel: 'private-x', auth: `${DEV_APP.key}:${'ab'.repeat(32)}` });
    expect(forged).toMatchObject({ status: 401, type: 'AuthError' });
    // A valid signature for another socket must not open the channel for this one.
    const replayed = await subscriptionErrorFor(raw, { channel: 'private-x', auth: signChannelAuth(DEV_APP, other.socketId, 'private-x') });
    expect(replayed.status).toBe(401);
    const signedByAnotherApp = await subscriptionErrorFor(raw, {
      channel: 'private-x',
      auth: signChannelAuth({ key: DEV_APP.key, secret: 'guess' }, raw.socketId, 'private-x'),
    });
    expect(signedByAnotherApp.status).toBe(401);
    expect((await subscriptionErrorFor(raw, { channel: 'private-x' })).status).toBe(401);
    expect((await subscriptionErrorFor(raw, { channel: 'private-encrypted-x', auth: 'nonsense' })).status).toBe(401);
    expect((await subscriptionErrorFor(raw, { channel: 'presence-x', auth: signChannelAuth(DEV_APP, raw.socketId, 'presence-x') })).status).toBe(401);

    await publishing;
    // None of those made the socket a subscriber: a publish to private-x reaches nobody on it.
    await sdk.trigger('private-x', 'leak', {});
    await bystander.publish(1);
    expect(raw.messages.some((m) => m.event === 'leak')).toBe(false);
    expect(raw.closeCode).toBeUndefined();
  });

  it('refuses signed but invalid presence data with 400, oversize user_info with 413, and a bad sign-in', async () => {
    const raw = await abuser();
    const presence = (channelData: string): object => ({
      channel: 'presence-p',
      auth: signChannelAuth(DEV_APP, raw.socketId, 'presence-p', channelData),
      channel_data: channelData,
    });

    expect((await subscriptionErrorFor(raw, presence('not json'))).status).toBe(400);
    expect((await subscriptionErrorFor(raw, presence('{"user_id":{"a":1}}'))).status).toBe(400);
    expect((await subscriptionErrorFor(raw, presence('{"user_id":""}'))).status).toBe(400);
    expect((await subscriptionErrorFor(raw, presence('{"user_id":"u","user_info":"flat"}'))).status).toBe(400);
    expect((await subscriptionErrorFor(raw, presence(JSON.stringify({ user_id: 'u', user_info: { bio: 'x'.repeat(1000) } })))).status).toBe(413);

    const notJson = 'not json';
    expectCatalogue(
      await errorFor(raw, { event: 'pusher:signin', data: { auth: signUserAuth(DEV_APP, raw.socketId, notJson), user_data: notJson } }),
      ErrorCode.SigninInvalid,
    );
    const noId = '{"user_info":{}}';
    expectCatalogue(
      await errorFor(raw, { event: 'pusher:signin', data: { auth: signUserAuth(DEV_APP, raw.socketId, noId), user_data: noId } }),
      ErrorCode.SigninInvalid,
    );
    expectCatalogue(await errorFor(raw, { event: 'pusher:signin', data: { auth: 'k:s', user_data: '{"id":"u"}' } }), ErrorCode.SigninAuthFailed);
    await bystander.publish(5);
    expect(raw.closeCode).toBeUndefined();
  });
});

describe('floods', () => {
  it('answers 5,000 bad frames sent at once, one error each, while the bystander keeps receiving', async () => {
    const raw = await abuser();
    const total = 5000;
    const publishing = bystander.publish(30);
    for (let i = 0; i < total; i++) {
      switch (i % 4) {
        case 0:
          raw.send('{oops');
          break;
        case 1:
          raw.send({ event: 'pusher:subscribe', data: i });
          break;
        case 2:
          raw.send({ event: 'pusher:subscribe', data: { channel: { i } } });
          break;
        default:
          raw.send({ event: `pusher:unknown-${i}` });
      }
    }
    await publishing;
    const errors = (): number => raw.messages.filter((m) => m.event === 'pusher:error').length;
    await until(() => errors() >= total, 15_000, 'an answer to every bad frame');
    expect(errors()).toBe(total);
    expect(raw.closeCode).toBeUndefined();
    await bystander.publish(10);
  }, 30_000);

  it('survives a flood of subscribe/unsubscribe churn across many channels and forgets them all', async () => {
    const raw = await abuser();
    const channels = 2000;
    const publishing = bystander.publish(20);
    for (let i = 0; i < channels; i++) raw.send({ event: 'pusher:subscribe', data: { channel: `churn-${i}` } });
    for (let i = 0; i < channels; i++) raw.send({ event: 'pusher:unsubscribe', data: { channel: `churn-${i}` } });
    await publishing;
    await until(
      () => raw.messages.filter((m) => m.event === 'pusher_internal:subscription_succeeded').length === channels,
      10_000,
      'every subscription answered',
    );
    const conn = [...node.core.connections].find((c) => c.id === raw.socketId);
    await until(() => conn !== undefined && channelCount(conn) === 0, 5000, 'every unsubscribe handled');
    expect(await node.core.listChannels(devApp(), 'churn-')).toEqual([]);
    expect(raw.closeCode).toBeUndefined();
  }, 30_000);
});

function devApp(): AppState {
  const app = node.core.apps.get(DEV_APP.id);
  if (app === undefined) throw new Error('dev app missing');
  return app;
}
