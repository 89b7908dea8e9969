import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Echo from 'laravel-echo';
import { afterEach, describe, expect, it } from 'vitest';
import { SwitchboardClient } from '../../packages/client/src/index.js';
import { SwitchboardConnector, type EchoConnectionStatus } from '../../packages/client/src/echo.js';
import type { RecoveryEvent } from '../../packages/client/src/index.js';
import type { RunningNode } from '../../src/node.js';
import { DEV_APP, serverSdk, TestResources, until, withTimeout } from '../helpers/node.js';
import { connectedClient, delayingProxy, HISTORY, wsUrl, type TestProxy } from './helpers.js';

// laravel-echo driving the Switchboard client: as a drop-in `Pusher` class for Echo's own pusher
// connector, and through SwitchboardConnector, which also reports reconnecting and recovery.
const resources = new TestResources();
const echos: Array<{ disconnect(): void }> = [];
const closers: Array<{ close(): void }> = [];
afterEach(async () => {
  for (const e of echos.splice(0)) e.disconnect();
  for (const c of closers.splice(0)) c.close();
  await resources.dispose();
});

/** A Laravel-style /broadcasting/auth that signs with the pusher SDK for the user named in a header. */
async function authBackend(node: RunningNode): Promise<string> {
  const sdk = serverSdk(node);
  const backend: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      const socketId = form.get('socket_id') ?? '';
      const channel = form.get('channel_name') ?? '';
      const user = String(req.headers['x-user']);
      const auth = channel.startsWith('presence-')
        ? sdk.authorizeChannel(socketId, channel, { user_id: user, user_info: { name: user } })
        : sdk.authorizeChannel(socketId, channel);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(auth));
    });
  });
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  closers.push(backend);
  return `http://127.0.0.1:${(backend.address() as AddressInfo).port}/broadcasting/auth`;
}

type EchoOptions = ConstructorParameters<typeof Echo<'pusher'>>[0];

describe("laravel-echo with SwitchboardClient as Echo's Pusher class", () => {
  it('public, private (through the auth endpoint) and presence channels, whispers', async () => {
    const node = await resources.node();
    const authEndpoint = await authBackend(node);
    const echoFor = (user: string): Echo<'pusher'> => {
      const echo = new Echo({
        broadcaster: 'pusher',
        key: DEV_APP.key,
        cluster: 'mt1',
        wsHost: '127.0.0.1',
        wsPort: node.port,
        forceTLS: false,
        enabledTransports: ['ws'],
        authEndpoint,
        auth: { headers: { 'x-user': user } },
        Pusher: SwitchboardClient,
      } as unknown as EchoOptions);
      echos.push(echo);
      return echo;
    };
    const ana = echoFor('ana');
    const ben = echoFor('ben');
    await connectedClient(ana.connector.pusher as unknown as SwitchboardClient);
    await connectedClient(ben.connector.pusher as unknown as SwitchboardClient);
    expect(ana.socketId()).toMatch(/^\d+\.\d+$/);
    expect(ana.connectionStatus()).toBe('connected');

    const shipped = new Promise((resolve) => ana.channel('orders').listen('OrderShipped', resolve));
    const privateEvent = new Promise((resolve) => ana.private('orders.1').listen('.status', resolve));
    const anaPrivate = ana.private('orders.1');
    await withTimeout(new Promise<void>((r) => anaPrivate.subscribed(() => r())), 5000, 'private subscription');
    await until(() => (ana.connector.pusher as unknown as SwitchboardClient).channel('orders')?.subscribed === true);
    const sdk = serverSdk(node);
    await sdk.trigger('orders', 'App\\Events\\OrderShipped', { id: 7 });
    await sdk.trigger('private-orders.1', 'status', { paid: true });
    expect(await withTimeout(shipped, 5000, 'no public event')).toEqual({ id: 7 });
    expect(await withTimeout(privateEvent, 5000, 'no private event')).toEqual({ paid: true });

    const here = await withTimeout(new Promise<Array<{ name: string }>>((r) => ana.join('room.1').here(r)), 5000, 'no here()');
    expect(here).toEqual([{ name: 'ana' }]);
    const joining = new Promise((r) => ana.join('room.1').joining(r));
    const benRoom = ben.join('room.1');
    expect(await withTimeout(joining, 5000, 'no joining()')).toEqual({ name: 'ben' });
    const whisper = new Promise((r) => ana.join('room.1').listenForWhisper('typing', r));
    await withTimeout(new Promise<void>((r) => benRoom.subscribed(() => r())), 5000, 'ben in the room');
    benRoom.whisper('typing', { who: 'ben' });
    expect(await withTimeout(whisper, 5000, 'no whisper')).toEqual({ who: 'ben' });
  });
});

describe('SwitchboardConnector', () => {
  it('reports reconnecting, then connected; the channel recovers what it missed (recovered) in order', async () => {
    const node = await resources.node({ apps: [{ ...DEV_APP, history: HISTORY }] });
    const proxy: TestProxy = await delayingProxy(node.port);
    closers.push(proxy);
    const echo = new Echo({
      broadcaster: SwitchboardConnector,
      key: DEV_APP.key,
      endpoints: [wsUrl(proxy.port)],
      backoff: { minMs: 200, maxMs: 400 },
    } as unknown as EchoOptions);
    echos.push(echo);
    const connector = echo.connector as unknown as SwitchboardConnector;
    const statuses: EchoConnectionStatus[] = [];
    connector.onConnectionChange((s) => statuses.push(s));
    const recoveries: RecoveryEvent[] = [];
    connector.onRecovered((e) => recoveries.push(e));
    const got: number[] = [];
    const channel = connector.channel('chat-echo').listen('.msg', (d: { n: number }) => got.push(d.n));
    expect(echo.channel('chat-echo')).toBe(channel);
    const channelRecovered = new Promise<RecoveryEvent>((r) => channel.recovered(r));
    await withTimeout(new Promise<void>((r) => channel.subscribed(() => r())), 5000, 'subscribed');
    const sdk = serverSdk(node);
    for (let n = 0; n < 3; n++) await sdk.trigger('chat-echo', 'msg', { n });
    await until(() => got.length === 3);

    proxy.cut(true);
    await until(() => echo.connectionStatus() === 'reconnecting', 2000, 'reconnecting status');
    for (let n = 3; n < 8; n++) await sdk.trigger('chat-echo', 'msg', { n });
    proxy.unblock();
    const recovered = await withTimeout(channelRecovered, 8000, 'no recovered');
    expect(recovered).toMatchObject({ channel: 'chat-echo', missed: 5 });
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(recoveries).toHaveLength(1);
    expect(statuses).toContain('reconnecting');
    expect(statuses.at(-1)).toBe('connected');
    expect(echo.connectionStatus()).toBe('connected');
  });
});
