import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { Member, Members, PresenceChannel } from '../../packages/client/src/index.js';
import { serverSdk, TestResources, until, withTimeout } from '../helpers/node.js';
import { ClientPool, connectedClient, delayingProxy, subscribedTo, wsUrl } from './helpers.js';

const resources = new TestResources();
const clients = new ClientPool();
const servers: Array<{ close(): void }> = [];
afterEach(async () => {
  clients.dispose();
  for (const s of servers.splice(0)) s.close();
  await resources.dispose();
});

describe('the pusher-js API against a real node', () => {
  it('connects (state_change, socket_id), delivers to channel, client-wide and global bindings, unbinds, disconnects and reconnects', async () => {
    const node = await resources.node();
    const client = clients.open({ wsHost: '127.0.0.1', wsPort: node.port, forceTLS: false, enabledTransports: ['ws'], autoConnect: false });
    const states: string[] = [];
    client.connection.bind('state_change', (s: { previous: string; current: string }) => states.push(`${s.previous}>${s.current}`));
    expect(client.connection.state).toBe('initialized');
    client.connect();
    await connectedClient(client);
    expect(states).toEqual(['initialized>connecting', 'connecting>connected']);
    expect(client.connection.socket_id).toMatch(/^\d+\.\d+$/);
    const channel = await subscribedTo(client, 'orders');
    expect(client.channel('orders')).toBe(channel);
    expect(client.allChannels().map((c) => c.name)).toEqual(['orders']);
    const onChannel: unknown[] = [];
    const onClient: unknown[] = [];
    const global: string[] = [];
    const dropped = (): void => void onChannel.push('unbound callback ran');
    channel.bind('shipped', (d: unknown) => onChannel.push(d));
    channel.bind('shipped', dropped);
    channel.unbind('shipped', dropped);
    client.bind('shipped', (d: unknown) => onClient.push(d));
    client.bind_global((name: string) => global.push(name));
    await serverSdk(node).trigger('orders', 'shipped', { id: 1 });
    await until(() => onClient.length === 1 && onChannel.length === 1);
    expect(onChannel).toEqual([{ id: 1 }]);
    expect(onClient).toEqual([{ id: 1 }]);
    expect(global).toEqual(['shipped']);

    client.disconnect();
    expect(client.connection.state).toBe('disconnected');
    client.connect();
    await connectedClient(client);
    await until(() => channel.subscribed, 3000, 'resubscribed after connect()');
    await serverSdk(node).trigger('orders', 'shipped', { id: 2 });
    await until(() => onChannel.length === 2);
    client.unsubscribe('orders');
    expect(client.channel('orders')).toBeUndefined();
  });

  it('private channels through channelAuthorization, client events between two clients, presence members, sign-in and user events', async () => {
    const node = await resources.node();
    const sdk = serverSdk(node);
    const open = (user: string) =>
      clients.open({
        endpoints: [wsUrl(node.port)],
        channelAuthorization: {
          customHandler: ({ socketId, channelName }, callback) =>
            callback(
              null,
              channelName.startsWith('presence-')
                ? sdk.authorizeChannel(socketId, channelName, { user_id: user, user_info: { name: user } })
                : sdk.authorizeChannel(socketId, channelName),
            ),
        },
        userAuthentication: { customHandler: ({ socketId }, callback) => callback(null, sdk.authenticateUser(socketId, { id: user })) },
      });
    const ana = open('ana');
    const ben = open('ben');
    await Promise.all([connectedClient(ana), connectedClient(ben)]);

    const [anaPrivate, benPrivate] = await Promise.all([subscribedTo(ana, 'private-room'), subscribedTo(ben, 'private-room')]);
    const whispers: Array<[unknown, unknown]> = [];
    benPrivate.bind('client-typing', (d: unknown, meta: unknown) => whispers.push([d, meta]));
    expect(anaPrivate.trigger('client-typing', { on: true })).toBe(true);
    await until(() => whispers.length === 1);
    expect(whispers[0]![0]).toEqual({ on: true });
    expect(() => anaPrivate.trigger('typing', {})).toThrow(/client-/);

    const anaRoom = (await subscribedTo(ana, 'presence-room')) as PresenceChannel;
    expect(anaRoom.members.count).toBe(1);
    expect(anaRoom.members.me).toEqual({ id: 'ana', info: { name: 'ana' } });
    const added = new Promise<Member>((resolve) => anaRoom.bind('pusher:member_added', resolve));
    const benRoom = (await subscribedTo(ben, 'presence-room')) as PresenceChannel;
    expect(await withTimeout(added, 3000, 'no member_added')).toEqual({ id: 'ben', info: { name: 'ben' } });
    const seen: string[] = [];
    benRoom.members.each((m: Member) => seen.push(m.id));
    expect(seen.sort()).toEqual(['ana', 'ben']);
    expect(benRoom.members.get('ana')).toEqual({ id: 'ana', info: { name: 'ana' } });
    const removed = new Promise<Member>((resolve) => anaRoom.bind('pusher:member_removed', resolve));
    ben.unsubscribe('presence-room');
    expect((await withTimeout(removed, 3000, 'no member_removed')).id).toBe('ben');
    expect((anaRoom.members as Members).count).toBe(1);

    ana.signin();
    const toUser = new Promise<unknown>((resolve) => ana.user.bind('notice', resolve));
    await until(() => ana.user.user_data?.id === 'ana', 3000, 'signed in');
    await new Promise((r) => setTimeout(r, 100));
    await sdk.sendToUser('ana', 'notice', { hello: 1 });
    expect(await withTimeout(toUser, 3000, 'no user event')).toEqual({ hello: 1 });
  });

  it('an authorization failure is a pusher:subscription_error on the channel, with the status', async () => {
    const node = await resources.node();
    const client = clients.open({ endpoints: [wsUrl(node.port)], channelAuthorization: { endpoint: 'http://127.0.0.1:1/auth', transport: 'ajax' } });
    await connectedClient(client);
    const channel = client.subscribe('private-nope');
    const error = await withTimeout(
      new Promise<{ type: string; error: string }>((resolve) => channel.bind('pusher:subscription_error', resolve)),
      5000,
      'no subscription_error',
    );
    expect(error.type).toBe('AuthError');
    expect(error.error).toMatch(/failed/);
    expect(client.connection.state).toBe('connected');
  });
});

describe('endpoint choice', () => {
  it('with one endpoint slowed by a delaying proxy, new clients land on the others, spread over both', async () => {
    const [slowNode, a, b] = await Promise.all([resources.node(), resources.node(), resources.node()]);
    const proxy = await delayingProxy(slowNode.port, 400);
    servers.push(proxy);
    const endpoints = [wsUrl(proxy.port), wsUrl(a.port), wsUrl(b.port)];
    const started = Date.now();
    const opened = Array.from({ length: 24 }, () => clients.open({ endpoints }));
    await Promise.all(opened.map((c) => connectedClient(c, 5000)));
    const elapsed = Date.now() - started;
    const landed = new Map<string, number>();
    for (const c of opened) landed.set(c.connection.endpoint!, (landed.get(c.connection.endpoint!) ?? 0) + 1);
    expect(landed.get(wsUrl(proxy.port)) ?? 0).toBeLessThanOrEqual(1);
    expect(landed.get(wsUrl(a.port)) ?? 0).toBeGreaterThanOrEqual(5);
    expect(landed.get(wsUrl(b.port)) ?? 0).toBeGreaterThanOrEqual(5);
    // The race never waits for the slow one: a client that tried it first started another 250 ms later.
    expect(elapsed).toBeLessThan(3000);
    // Each client measured its node's RTT with a ping right after connecting.
    await until(() => opened.every((c) => c.connection.pool.get(c.connection.endpoint!)?.srtt !== null), 3000, 'RTT samples');
  });

  it('fails over to the next endpoint when the first refuses connections, and reads endpoints from a balancer-style /endpoints', async () => {
    const node = await resources.node();
    const { createServer: createHttp } = await import('node:http');
    const discovery = createHttp((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          endpoints: [
            { url: 'ws://127.0.0.1:1', weight: 1, connections: 0, elu: null },
            { url: wsUrl(node.port), weight: 1, connections: 0, elu: 0.1 },
          ],
        }),
      );
    });
    discovery.listen(0, '127.0.0.1');
    await once(discovery, 'listening');
    servers.push(discovery);
    const client = clients.open({ endpointsUrl: `http://127.0.0.1:${(discovery.address() as { port: number }).port}/endpoints` });
    await connectedClient(client, 5000);
    expect(client.connection.endpoint).toBe(wsUrl(node.port));
    expect(client.connection.pool.list().map((e) => e.url)).toEqual(['ws://127.0.0.1:1', wsUrl(node.port)]);
  });
});

describe('bad input from a server', () => {
  it('junk frames are reported as errors and ignored: the client stays connected and keeps delivering', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    servers.push(wss);
    const junk: Array<string | Buffer> = [
      'not json',
      '[]',
      'null',
      '{"event":null}',
      '{"event":"x","channel":12}',
      Buffer.from([0, 1, 2, 3]),
      '['.repeat(100_000),
      '{"event":"pusher_internal:subscription_succeeded","channel":"nobody-subscribed"}',
      '{"event":"pusher_internal:member_added","channel":"public-1","data":"garbage"}',
      '{"event":"pusher_internal:subscription_count","channel":"public-1","data":"{\\"subscription_count\\":\\"many\\"}"}',
      '{"event":"pusher:pong"}',
      '{"event":"pusher:connection_established","data":"{}"}',
      '{"event":"pusher:error"}',
      '{"event":"pusher:signin_success","data":{"user_data":"{not json"}}',
      '{"event":"pusher_internal:watchlist_events","data":{"events":"x"}}',
      '{"event":"pusher_internal:subscription_succeeded","channel":"presence-x","data":"{\\"presence\\":\\"str\\"}"}',
      JSON.stringify({ event: 'msg', channel: 'public-1', data: '{"n":1}', offset: 'NaN', epoch: { evil: true } }),
    ];
    wss.on('connection', (ws) => {
      ws.send(JSON.stringify({ event: 'pusher:connection_established', data: JSON.stringify({ socket_id: '1.2', activity_timeout: 120 }) }));
      ws.on('message', (raw) => {
        const frame = JSON.parse(String(raw)) as { event: string; data: { channel: string } };
        if (frame.event !== 'pusher:subscribe') return;
        ws.send(JSON.stringify({ event: 'pusher_internal:subscription_succeeded', channel: frame.data.channel, data: '{}' }));
        for (const j of junk) ws.send(j);
        ws.send(JSON.stringify({ event: 'msg', channel: 'public-1', data: '{"n":2}' }));
      });
    });
    const client = clients.open({ endpoints: [wsUrl((wss.address() as { port: number }).port)] });
    const errors: Array<{ type: string }> = [];
    client.connection.bind('error', (e: { type: string }) => errors.push(e));
    await connectedClient(client);
    const channel = client.subscribe('public-1');
    const got: unknown[] = [];
    channel.bind('msg', (d: unknown) => got.push(d));
    await until(() => got.length === 2, 3000, 'the events after the junk');
    expect(got).toEqual([{ n: 1 }, { n: 2 }]);
    expect(client.connection.state).toBe('connected');
    expect(errors.filter((e) => e.type === 'MessageParseError').length).toBeGreaterThanOrEqual(7);
    expect(channel.position).toBeNull();
  });

  it('a server whose handshake is malformed is retried with growing, jittered delays, not in a tight loop', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    servers.push(wss);
    const attempts: number[] = [];
    wss.on('connection', (ws) => {
      attempts.push(Date.now());
      ws.send(JSON.stringify({ event: 'pusher:connection_established', data: JSON.stringify({ socket_id: 12 }) }));
    });
    const client = clients.open({ endpoints: [wsUrl((wss.address() as { port: number }).port)], backoff: { minMs: 100, maxMs: 400 } });
    await new Promise((r) => setTimeout(r, 1500));
    expect(client.connection.state).not.toBe('connected');
    expect(attempts.length).toBeGreaterThanOrEqual(3);
    // Bounded by the backoff: at most one attempt per ~100 ms on average, never hundreds.
    expect(attempts.length).toBeLessThan(30);
  });
});
