import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Echo from 'laravel-echo';
import PusherJs from 'pusher-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../../src/node.js';
import { connected, pusherJsOptions, serverSdk, startTestNode, withTimeout, type PusherJs as PusherClient } from '../helpers/node.js';

// laravel-echo on top of pusher-js, with a Laravel-style /broadcasting/auth
// endpoint that signs with the pusher SDK: what a Laravel app runs unchanged.
describe('laravel-echo', () => {
  let node: RunningNode;
  let backend: Server;
  let authUrl: string;
  const echos: Echo<'pusher'>[] = [];

  beforeAll(async () => {
    node = await startTestNode();
    const sdk = serverSdk(node);
    backend = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        const socketId = form.get('socket_id') ?? '';
        const channel = form.get('channel_name') ?? '';
        const user = req.headers['x-user'] as string;
        const auth = channel.startsWith('presence-')
          ? sdk.authorizeChannel(socketId, channel, { user_id: user, user_info: { name: user } })
          : sdk.authorizeChannel(socketId, channel);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(auth));
      });
    });
    backend.listen(0, '127.0.0.1');
    await once(backend, 'listening');
    authUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}/broadcasting/auth`;
  });

  afterAll(async () => {
    for (const echo of echos) echo.disconnect();
    backend?.close();
    await node?.stop({ drainSeconds: 0 });
  });

  function echoFor(user: string): Echo<'pusher'> {
    const echo = new Echo({
      broadcaster: 'pusher',
      key: 'app-key',
      ...pusherJsOptions(node),
      authEndpoint: authUrl,
      auth: { headers: { 'x-user': user } },
      Pusher: PusherJs,
    } as ConstructorParameters<typeof Echo<'pusher'>>[0]);
    echos.push(echo);
    return echo;
  }

  it('receives a broadcast on a public channel', async () => {
    const echo = echoFor('ana');
    const received = new Promise((resolve) => echo.channel('orders').listen('.order.shipped', resolve));
    await connected(echo.connector.pusher as unknown as PusherClient);
    await new Promise((r) => setTimeout(r, 200));
    await serverSdk(node).trigger('orders', 'order.shipped', { id: 7 });
    expect(await withTimeout(received, 5000, 'no event')).toEqual({ id: 7 });
  });

  it('authorizes a private channel through the app backend and receives on it', async () => {
    const echo = echoFor('ben');
    const channel = echo.private('orders.1');
    await withTimeout(new Promise<void>((r) => channel.subscribed(() => r())), 5000, 'private subscription failed');
    const received = new Promise((resolve) => channel.listen('.status', resolve));
    await serverSdk(node).trigger('private-orders.1', 'status', { paid: true });
    expect(await withTimeout(received, 5000, 'no event')).toEqual({ paid: true });
  });

  it('lists presence members with here() and reports joining()', async () => {
    const first = echoFor('cleo');
    const here = await withTimeout(new Promise<Array<{ name: string }>>((r) => first.join('room.1').here(r)), 5000, 'no here()');
    expect(here).toEqual([{ name: 'cleo' }]);
    const joined = new Promise<{ name: string }>((r) => first.join('room.1').joining(r));
    const second = echoFor('dan');
    const herePair = await withTimeout(new Promise<Array<{ name: string }>>((r) => second.join('room.1').here(r)), 5000, 'no here()');
    expect(herePair.map((m) => m.name).sort()).toEqual(['cleo', 'dan']);
    expect(await withTimeout(joined, 5000, 'no joining()')).toEqual({ name: 'dan' });
  });
});
