import { once } from 'node:events';
import { Redis } from 'ioredis';
import Pusher from 'pusher';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { configSchema } from '../../src/config/schema.js';
import { startNode, type RunningNode } from '../../src/node.js';
import { signChannelAuth } from '../../src/protocol/signatures.js';
import { BrokerProcess, REDIS_BINARY, serviceAvailable } from '../cluster/services.js';
import { capturingLogger, createDatabase, databaseAvailable, type TestDatabase } from './db.js';

const redisOk = serviceAvailable(REDIS_BINARY, 'redis-server');
const pgOk = await databaseAvailable('postgres');

interface Client {
  ws: WebSocket;
  socketId: string;
  closed: Promise<number>;
  frames: Array<{ event: string; channel?: string }>;
}

async function connect(node: RunningNode, key: string): Promise<Client> {
  const ws = new WebSocket(`ws://127.0.0.1:${node.port}/app/${key}?protocol=7`);
  const frames: Client['frames'] = [];
  ws.on('message', (d) => frames.push(JSON.parse(String(d)) as { event: string }));
  const closed = once(ws, 'close').then(([code]) => code as number);
  const [data] = await once(ws, 'message');
  const first = JSON.parse(String(data)) as { event: string; data: string };
  if (first.event !== 'pusher:connection_established') throw new Error(`not connected: ${String(data)}`);
  return { ws, socketId: (JSON.parse(first.data) as { socket_id: string }).socket_id, closed, frames };
}

async function until(check: () => boolean, ms: number): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return Date.now() - started;
}

describe.skipIf(!redisOk || !pgOk)('app changes across a 3-node cluster (postgres store, redis adapter)', () => {
  let redis: BrokerProcess;
  let db: TestDatabase;
  const nodes: RunningNode[] = [];
  const prefix = `apps${process.pid}`;
  let storeFlags: string[];
  const out: string[] = [];
  const io = { stdout: (t: string) => void out.push(t), stderr: (t: string) => void out.push(t), env: {} };

  beforeAll(async () => {
    redis = await BrokerProcess.start('redis');
    db = await createDatabase('postgres');
    storeFlags = ['--app-store', 'postgres', '--app-store-url', db.url, '--adapter', 'redis', '--redis-url', redis.url, '--key-prefix', prefix];
    expect(await runCli(['apps', 'migrate', ...storeFlags], io)).toBe(0);
    expect(await runCli(['apps', 'create', '--id', '1001', '--key', 'my-key', '--secret', 'my-secret', ...storeFlags], io)).toBe(0);
    for (let i = 0; i < 3; i++) {
      const config = configSchema.parse({
        host: '127.0.0.1',
        port: 0,
        logLevel: 'silent',
        adapter: 'redis',
        redisUrl: redis.url,
        keyPrefix: prefix,
        nodeId: `apps-n${i}`,
        appStore: 'postgres',
        appStoreUrl: db.url,
        appCacheTtl: 600,
        heartbeatInterval: 0.2,
        nodeTimeout: 2,
      });
      nodes.push(await startNode(Object.freeze(config), capturingLogger('silent').logger));
    }
  }, 30_000);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop({ drainSeconds: 0 })));
    await db?.drop();
    await redis?.stop();
  });

  it("an update through the CLI reaches every node's cache within 1 s", async () => {
    const clients = await Promise.all(nodes.map((n) => connect(n, 'my-key')));
    expect(nodes.every((n) => n.core.apps.get('1001')?.config.maxConnections === 0)).toBe(true);
    // L2: the definition the first node read is in Redis for the others.
    const shared = new Redis(redis.url);
    expect(JSON.parse((await shared.get(`${prefix}:apps:id:1001`)) ?? '{}')).toMatchObject({ id: '1001', key: 'my-key' });
    shared.disconnect();
    expect(await runCli(['apps', 'update', '--id', '1001', '--fields', '{"maxConnections":2}', ...storeFlags], io)).toBe(0);
    const took = await until(() => nodes.every((n) => n.core.apps.get('1001')?.config.maxConnections === 2), 1000);
    expect(took).toBeLessThan(1000);
    // Live state kept: the connections are still open and the new limit applies to new ones.
    expect(clients.every((c) => c.ws.readyState === WebSocket.OPEN)).toBe(true);
    const second = await connect(nodes[0]!, 'my-key');
    const third = new WebSocket(`ws://127.0.0.1:${nodes[0]!.port}/app/my-key?protocol=7`);
    const [code] = await once(third, 'close');
    expect(code).toBe(4004);
    second.ws.close();
    for (const c of clients) c.ws.close();
  });

  it('apps loaded from the store after the join get the cluster wiring: events and presence cross nodes (replicated too)', async () => {
    // 1001 has no webhooks; 3003 has one, so its membership is replicated to every node.
    expect(
      await runCli(
        [
          'apps',
          'create',
          '--id',
          '3003',
          '--key',
          'repl-key',
          '--secret',
          'repl-secret',
          '--fields',
          '{"webhooks":[{"url":"http://127.0.0.1:9/h","eventTypes":["member_added"]}]}',
          ...storeFlags,
        ],
        io,
      ),
    ).toBe(0);
    const receiver = await connect(nodes[2]!, 'my-key');
    receiver.ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'news' } }));
    await until(() => receiver.frames.some((f) => f.event === 'pusher_internal:subscription_succeeded'), 1000);
    await new Promise((r) => setTimeout(r, 100));
    const publisher = new Pusher({ appId: '1001', key: 'my-key', secret: 'my-secret', host: '127.0.0.1', port: String(nodes[0]!.port), useTLS: false });
    await publisher.trigger('news', 'hello', { n: 1 });
    await until(() => receiver.frames.some((f) => f.event === 'hello' && f.channel === 'news'), 2000);
    receiver.ws.close();

    const presence = async (node: RunningNode, user: string): Promise<Client> => {
      const client = await connect(node, 'repl-key');
      const channelData = JSON.stringify({ user_id: user });
      const auth = signChannelAuth({ key: 'repl-key', secret: 'repl-secret' }, client.socketId, 'presence-room', channelData);
      client.ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'presence-room', auth, channel_data: channelData } }));
      await until(() => client.frames.some((f) => f.event === 'pusher_internal:subscription_succeeded'), 2000);
      return client;
    };
    const alice = await presence(nodes[0]!, 'alice');
    // Node 0 asked the others for their shares when the replicated app became live there.
    await new Promise((r) => setTimeout(r, 300));
    const bob = await presence(nodes[2]!, 'bob');
    await until(() => alice.frames.some((f) => f.event === 'pusher_internal:member_added'), 2000);
    alice.ws.close();
    bob.ws.close();
  });

  it('rotate-secret: signatures from the old and the new secret verify during the grace, then only the new one', async () => {
    expect(await runCli(['apps', 'rotate-secret', '--id', '1001', '--secret', 'rotated-secret', '--grace', '2', ...storeFlags], io)).toBe(0);
    await until(() => nodes.every((n) => n.core.apps.get('1001')?.config.secret === 'rotated-secret'), 1000);
    const node = nodes[1]!;
    const sdk = (secret: string) => new Pusher({ appId: '1001', key: 'my-key', secret, host: '127.0.0.1', port: String(node.port), useTLS: false });
    expect((await sdk('my-secret').get({ path: '/channels' })).status).toBe(200);
    expect((await sdk('rotated-secret').get({ path: '/channels' })).status).toBe(200);
    // Channel auth signed with the old secret is accepted too.
    const client = await connect(node, 'my-key');
    const auth = signChannelAuth({ key: 'my-key', secret: 'my-secret' }, client.socketId, 'private-x');
    client.ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'private-x', auth } }));
    await until(() => client.frames.some((f) => f.event === 'pusher_internal:subscription_succeeded'), 1000);
    client.ws.close();
    await new Promise((r) => setTimeout(r, 2100));
    await expect(sdk('my-secret').get({ path: '/channels' })).rejects.toMatchObject({ status: 401 });
    expect((await sdk('rotated-secret').get({ path: '/channels' })).status).toBe(200);
  });

  it("disable closes the app's connections with 4003 on every node; enable lets it back", async () => {
    const clients = await Promise.all(nodes.map((n) => connect(n, 'my-key')));
    const started = Date.now();
    expect(await runCli(['apps', 'disable', '--id', '1001', ...storeFlags], io)).toBe(0);
    const codes = await Promise.all(clients.map((c) => c.closed));
    expect(codes).toEqual([4003, 4003, 4003]);
    expect(Date.now() - started).toBeLessThan(3000);
    const refused = new WebSocket(`ws://127.0.0.1:${nodes[2]!.port}/app/my-key?protocol=7`);
    expect((await once(refused, 'close'))[0]).toBe(4003);
    expect(await runCli(['apps', 'enable', '--id', '1001', ...storeFlags], io)).toBe(0);
    await until(() => nodes.every((n) => n.core.apps.get('1001')?.config.enabled === true), 1000);
    (await connect(nodes[2]!, 'my-key')).ws.close();
  });

  it('the admin API makes the same changes and they reach the other nodes; delete closes with 4003', async () => {
    const token = 'x'.repeat(20);
    // The nodes above have no admin token: the endpoints are absent.
    expect((await fetch(`http://127.0.0.1:${nodes[0]!.port}/admin/apps`)).status).toBe(404);
    const config = configSchema.parse({
      host: '127.0.0.1',
      port: 0,
      logLevel: 'silent',
      adapter: 'redis',
      redisUrl: redis.url,
      keyPrefix: prefix,
      nodeId: 'apps-admin',
      appStore: 'postgres',
      appStoreUrl: db.url,
      adminToken: token,
      heartbeatInterval: 0.2,
      nodeTimeout: 2,
    });
    const admin = await startNode(Object.freeze(config), capturingLogger('silent').logger);
    try {
      const call = (path: string, body?: unknown) =>
        fetch(`http://127.0.0.1:${admin.port}${path}`, {
          method: body === undefined ? 'GET' : 'POST',
          headers: { authorization: `Bearer ${token}` },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      expect((await fetch(`http://127.0.0.1:${admin.port}/admin/apps`)).status).toBe(401);
      expect((await call('/admin/apps/2002/create', { key: 'k2002', secret: 's2002' })).status).toBe(201);
      expect((await call('/admin/apps/2002/create', { key: 'k2002', secret: 's2002' })).status).toBe(409);
      expect((await call('/admin/apps/2002/update', { maxConnections: -1 })).status).toBe(400);
      const listed = (await (await call('/admin/apps')).json()) as { apps: Array<{ id: string; secret: string }> };
      expect(listed.apps.map((a) => a.id).sort()).toEqual(['1001', '2002', '3003']);
      expect(listed.apps.every((a) => a.secret === '***')).toBe(true);
      const client = await connect(nodes[0]!, 'k2002');
      expect((await call('/admin/apps/2002/update', { maxConnections: 3 })).status).toBe(200);
      await until(() => nodes[0]!.core.apps.get('2002')?.config.maxConnections === 3, 1000);
      expect((await call('/admin/apps/2002/delete', {})).status).toBe(200);
      expect(await client.closed).toBe(4003);
      expect((await call('/admin/apps/2002')).status).toBe(404);
      const unknown = new WebSocket(`ws://127.0.0.1:${nodes[0]!.port}/app/k2002?protocol=7`);
      expect((await once(unknown, 'close'))[0]).toBe(4001);
    } finally {
      await admin.stop({ drainSeconds: 0 });
    }
  });
});
