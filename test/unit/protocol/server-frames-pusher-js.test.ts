/**
 * The outgoing builders driven through a real pusher-js client: a tiny scripted WebSocket
 * server on a loopback port answers the client's frames with ours, and the test watches the
 * events pusher-js raises. This checks what an app using pusher-js would notice.
 */
import type { AddressInfo } from 'node:net';
import PusherJsModule from 'pusher-js';
import type * as PusherTypes from 'pusher-js/types/src/core/pusher.js';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import * as frames from '../../../src/protocol/frames.js';

// pusher-js's index.d.ts is read as CommonJS under NodeNext, so its default import is typed as
// the module namespace although at run time it is the Pusher class: restore the class type.
const PusherJs = PusherJsModule as unknown as new (key: string, options: object) => PusherTypes.default;
type PusherJs = PusherTypes.default;

const USER_DATA = JSON.stringify({ id: '1', watchlist: ['2'] });

/** How the scripted server answers each client frame. */
function answer(socket: WebSocket, text: string): void {
  const parsed = frames.parseClientFrame(text);
  if (!parsed.ok) return;
  const message = parsed.message;
  const send = (frame: string) => socket.send(frame);
  if (message.kind === 'ping') send(frames.pusherPong());
  if (message.kind === 'signin') {
    send(frames.signinSuccess(message.userData));
    send(frames.watchlistEvents([{ name: 'online', user_ids: ['2'] }]));
  }
  if (message.kind === 'client-event') send(frames.pusherError(4301, 'slow down'));
  if (message.kind !== 'subscribe') return;
  const { channel } = message;
  if (channel === 'cache-news') {
    send(frames.subscriptionSucceeded(channel));
    send(frames.cacheMiss(channel));
    send(frames.subscriptionCount(channel, 3));
  } else if (channel === 'presence-room') {
    send(
      frames.presenceSubscriptionSucceeded(
        channel,
        new Map<string, unknown>([
          ['1', { name: 'Ann' }],
          ['2', undefined],
        ]),
      ),
    );
    send(frames.memberAdded(channel, '3', { name: 'Cy' }));
    send(frames.memberRemoved(channel, '2'));
  } else if (channel === 'private-denied') {
    send(frames.subscriptionError(channel, 'AuthError', 'Invalid signature', 401));
  } else {
    send(frames.subscriptionSucceeded(channel));
    send(frames.encodeEvent('greeting', '{"text":"hi"}', channel));
  }
}

let server: WebSocketServer;
let client: PusherJs;

beforeAll(async () => {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  server.on('connection', (socket) => {
    socket.send(frames.connectionEstablished('111.222', 120));
    socket.on('message', (data) => answer(socket, String(data)));
  });
  const { port } = server.address() as AddressInfo;
  const options = {
    wsHost: '127.0.0.1',
    wsPort: port,
    forceTLS: false,
    enabledTransports: ['ws'],
    cluster: 'mt1',
    disableStats: true,
    // The scripted server does not check signatures, so any auth will do.
    channelAuthorization: {
      customHandler: (params: { channelName: string }, callback: (e: Error | null, d: object | null) => void) =>
        callback(null, {
          auth: 'key:sig',
          ...(params.channelName.startsWith('presence-') ? { channel_data: '{"user_id":"1"}' } : {}),
        }),
    },
    userAuthentication: {
      customHandler: (_params: unknown, callback: (e: Error | null, d: object | null) => void) => callback(null, { auth: 'key:sig', user_data: USER_DATA }),
    },
  };
  client = new PusherJs('key', options);
  await within(new Promise<void>((resolve) => client.connection.bind('connected', () => resolve())));
});

afterAll(async () => {
  client?.disconnect();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Resolve with the first payload of `event` on `target` (bounded in time). */
function next<T>(target: { bind(event: string, cb: (data: T) => void): unknown }, event: string): Promise<T> {
  return within(new Promise<T>((resolve) => target.bind(event, resolve)));
}

function within<T>(promise: Promise<T>, ms = 3000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no event within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

test('connection_established gives pusher-js its socket id', () => {
  expect(client.connection.socket_id).toBe('111.222');
});

test('a public channel: subscription_succeeded, then an event with decoded data', async () => {
  const channel = client.subscribe('news');
  const [, greeting] = await Promise.all([next(channel, 'pusher:subscription_succeeded'), next<{ text: string }>(channel, 'greeting')]);
  expect(channel.subscribed).toBe(true);
  expect(greeting).toEqual({ text: 'hi' });
});

test('a cache channel: cache_miss and subscription_count reach the channel', async () => {
  const channel = client.subscribe('cache-news');
  const [, count] = await Promise.all([next(channel, 'pusher:cache_miss'), next<{ subscription_count: number }>(channel, 'pusher:subscription_count')]);
  expect(count).toEqual({ subscription_count: 3 });
  expect(channel.subscriptionCount).toBe(3);
});

test('a presence channel: members, member_added and member_removed', async () => {
  const channel = client.subscribe('presence-room') as ReturnType<PusherJs['subscribe']> & {
    members: { count: number; get(id: string): { info: unknown } | null; each(cb: (m: { id: string }) => void): void };
  };
  const [added, removed] = await Promise.all([
    next<{ id: string; info: unknown }>(channel, 'pusher:member_added'),
    next<{ id: string }>(channel, 'pusher:member_removed'),
    next(channel, 'pusher:subscription_succeeded'),
  ]);
  expect(added).toEqual({ id: '3', info: { name: 'Cy' } });
  expect(removed.id).toBe('2');
  const ids: string[] = [];
  channel.members.each((member: { id: string }) => ids.push(member.id));
  expect(ids.sort()).toEqual(['1', '3']);
  expect(channel.members.count).toBe(2);
  expect(channel.members.get('1')?.info).toEqual({ name: 'Ann' });
});

test('subscription_error reaches the channel with type and status', async () => {
  const channel = client.subscribe('private-denied');
  const error = await next<{ type: string; error: string; status: number }>(channel, 'pusher:subscription_error');
  expect(error).toEqual({ type: 'AuthError', error: 'Invalid signature', status: 401 });
  expect(channel.subscribed).toBe(false);
});

test('pusher:error surfaces as a connection error with code and message', async () => {
  const channel = client.subscribe('private-chat');
  await next(channel, 'pusher:subscription_succeeded');
  const errorEvent = next<{ type: string; data: { code: number; message: string } }>(client.connection, 'error');
  channel.trigger('client-spam', { n: 1 });
  expect(await errorEvent).toEqual({ type: 'PusherError', data: { code: 4301, message: 'slow down' } });
});

test('signin_success signs the user in and watchlist events arrive', async () => {
  const online = next<{ name: string; user_ids: string[] }>(client.user.watchlist, 'online');
  client.signin();
  await within(client.user.signinDonePromise);
  expect(client.user.user_data).toEqual({ id: '1', watchlist: ['2'] });
  expect(await online).toEqual({ name: 'online', user_ids: ['2'] });
});
