import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { createServer, type Socket } from 'node:net';
import Pusher from 'pusher';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import type { Balancer } from '../../src/balancer/balancer.js';
import type { RunningNode } from '../../src/node.js';
import { connected, DEV_APP, pusherClient, startTestNode, type PusherJs } from '../helpers/node.js';
import { backendsUp, closeAll, openMany, openPusherSocket, ScriptedBackend, sleep, startBalancer, until, WS_PATH } from './helpers.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function nodes(n: number, overrides = {}): Promise<RunningNode[]> {
  const list = await Promise.all(Array.from({ length: n }, () => startTestNode(overrides)));
  for (const node of list) cleanups.push(() => node.stop({ drainSeconds: 0 }));
  return list;
}

async function balancerFor(backends: string[], overrides = {}): Promise<Balancer> {
  const balancer = await startBalancer({ backend: backends, ...overrides });
  cleanups.push(() => balancer.stop());
  await backendsUp(balancer);
  return balancer;
}

function sdkThrough(balancer: Balancer): Pusher {
  return new Pusher({ appId: DEV_APP.id, key: DEV_APP.key, secret: DEV_APP.secret, host: '127.0.0.1', port: String(balancer.port), useTLS: false });
}

function clientThrough(balancer: Balancer): PusherJs {
  const client = pusherClient({ port: balancer.port } as RunningNode);
  cleanups.push(() => client.disconnect());
  return client;
}

/** A GET whose path goes on the wire exactly as given. */
function rawGetStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('balancer proxy', () => {
  it('events published through the balancer (pusher SDK) reach pusher-js clients connected through it', async () => {
    const [a, b] = await nodes(2);
    const balancer = await balancerFor([`127.0.0.1:${a!.port}`, `127.0.0.1:${b!.port}`], { algorithm: 'round-robin' });
    // Clients on both nodes; only the node with the subscriber delivers, so pin the channel to one
    // node per client: each client subscribes to its own channel, and publishes go through the balancer.
    const clients = Array.from({ length: 4 }, () => clientThrough(balancer));
    await Promise.all(clients.map((c) => connected(c)));
    expect(a!.core.connections.size).toBe(2);
    expect(b!.core.connections.size).toBe(2);
    const got: string[][] = clients.map(() => []);
    await Promise.all(
      clients.map(
        (c, i) =>
          new Promise<void>((resolve) => {
            const channel = c.subscribe(`room-${i}`);
            channel.bind('pusher:subscription_succeeded', () => resolve());
            channel.bind('say', (data: { n: number }) => got[i]!.push(`room-${i}:${data.n}`));
          }),
      ),
    );
    // Each channel lives on one node: the HTTP API request must reach that node, which round-robin
    // does for half of them; publishing to every channel twice makes each node see each channel once.
    const sdk = sdkThrough(balancer);
    for (let i = 0; i < 4; i++) {
      await sdk.trigger(`room-${i}`, 'say', { n: 1 });
      await sdk.trigger(`room-${i}`, 'say', { n: 1 });
    }
    await until(() => got.every((g) => g.length >= 1), 5000, 'deliveries');
    const described = balancer.describe() as { backends: Array<{ activeConnections: number }> };
    expect(described.backends.map((x) => x.activeConnections)).toEqual([2, 2]);
  });

  it('a backend named by host name is resolved ahead: checked, connected through, and its address shown', async () => {
    const [a] = await nodes(1);
    const balancer = await balancerFor([`localhost:${a!.port}`]);
    const client = clientThrough(balancer);
    await connected(client);
    const got = new Promise<unknown>((resolve) => {
      const channel = client.subscribe('named');
      channel.bind('pusher:subscription_succeeded', () => void sdkThrough(balancer).trigger('named', 'say', { n: 1 }));
      channel.bind('say', resolve);
    });
    expect(await got).toEqual({ n: 1 });
    const described = balancer.describe() as { backends: Array<{ address: string; resolvedAddress: string | null; activeConnections: number }> };
    expect(described.backends).toMatchObject([
      { address: `localhost:${a!.port}`, resolvedAddress: expect.stringMatching(/^(127\.0\.0\.1|::1)$/), activeConnections: 1 },
    ]);
  });

  it('a graceful stop takes no new connections and closes the open tunnels evenly over drainSeconds', async () => {
    const backend = await ScriptedBackend.start();
    cleanups.push(() => backend.stop());
    const balancer = await startBalancer({ backend: [backend.address] });
    await backendsUp(balancer);
    const sockets = await openMany(balancer.port, 30, 10);
    cleanups.push(() => closeAll(sockets));
    const closedAt: number[] = [];
    const started = performance.now();
    for (const ws of sockets) ws.once('close', () => closedAt.push(performance.now() - started));
    const stopping = balancer.stop({ drainSeconds: 1 });
    await sleep(50);
    await expect(openPusherSocket(balancer.port)).rejects.toThrow(/ECONNREFUSED/);
    await stopping;
    await until(() => closedAt.length === 30, 2000, `all closed (${closedAt.length})`);
    closedAt.sort((a, b) => a - b);
    // 30 over ten 100 ms steps: a few at a time from the start, the last ones near the end of the second.
    expect(closedAt[0]).toBeLessThan(400);
    expect(closedAt.filter((t) => t < 300).length).toBeLessThanOrEqual(15);
    expect(closedAt[29]).toBeGreaterThan(700);
    expect(closedAt[29]).toBeLessThan(3000);
  });

  it('with an internal port, --listen serves only the protocol paths and the balancer views move there', async () => {
    const backend = await ScriptedBackend.start();
    cleanups.push(() => backend.stop());
    const balancer = await balancerFor([backend.address], { internalPort: 0 });
    expect(balancer.internalPort).toBeGreaterThan(0);
    const get = async (port: number, path: string): Promise<number> => (await fetch(`http://127.0.0.1:${port}${path}`)).status;

    // Public: the WebSocket path, the HTTP API and /endpoints; nothing else, ours or the nodes'.
    const ws = await openPusherSocket(balancer.port);
    cleanups.push(() => ws.terminate());
    expect(await get(balancer.port, '/apps/1/channels')).toBe(200);
    expect(await get(balancer.port, '/endpoints')).toBe(200);
    const before = backend.requests.length;
    for (const path of ['/balancer', '/metrics', '/cluster', '/ready', '/dashboard', '/']) expect(await get(balancer.port, path), path).toBe(404);
    // Sent as written (fetch would normalize them first).
    for (const path of ['/apps/../cluster', '/apps/%2E%2e/metrics', '/app/./x/../../cluster']) expect(await rawGetStatus(balancer.port, path), path).toBe(404);
    expect(backend.requests.slice(before).filter((r) => r.url !== '/ready')).toEqual([]);
    const other = new WebSocket(`ws://127.0.0.1:${balancer.port}/cluster/ws`);
    const refused = await new Promise<number>((resolve) => other.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(refused).toBe(404);

    // Internal: the balancer's own views, and nothing forwarded.
    const described = (await (await fetch(`http://127.0.0.1:${balancer.internalPort}/balancer`)).json()) as { backends: unknown[] };
    expect(described.backends).toHaveLength(1);
    const metrics = await (await fetch(`http://127.0.0.1:${balancer.internalPort}/metrics`)).text();
    expect(metrics).toMatch(/switchboard_balancer_proxy_errors_total\{kind="not-public"\} 10/);
    expect(await get(balancer.internalPort, '/apps/1/channels')).toBe(404);
  });

  it('adds X-Forwarded-For and -Proto, keeping a chain the client brought', async () => {
    const backend = await ScriptedBackend.start();
    cleanups.push(() => backend.stop());
    const balancer = await balancerFor([backend.address]);
    const res = await fetch(`http://127.0.0.1:${balancer.port}/apps/x/channels`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    const body = (await res.json()) as { headers: Record<string, string> };
    expect(body.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(body.headers['x-forwarded-proto']).toBe('http');
    const ws = await openPusherSocket(balancer.port);
    cleanups.push(() => ws.terminate());
    const upgrade = backend.requests.find((r) => r.headers.upgrade !== undefined)!;
    expect(upgrade.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('sends a PROXY protocol v1 line first when asked', async () => {
    const lines: string[] = [];
    const tcp = createServer((s: Socket) => {
      s.once('data', (d: Buffer) => {
        const first = d.toString('latin1').split('\r\n')[0]!;
        // Health checks (plain GET /ready) arrive here too.
        if (first.startsWith('PROXY')) lines.push(first);
        s.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      });
    });
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => tcp.close(r)));
    const port = (tcp.address() as { port: number }).port;
    // No health checks can pass against a PROXY-only backend; panic mode still sends traffic to it.
    const balancer = await startBalancer({ backend: [`127.0.0.1:${port}`], proxyProtocol: true });
    cleanups.push(() => balancer.stop());
    const ws = new WebSocket(`ws://127.0.0.1:${balancer.port}${WS_PATH}`);
    ws.on('error', () => undefined);
    await until(() => lines.length > 0, 3000, 'PROXY line');
    ws.terminate();
    expect(lines[0]).toMatch(/^PROXY TCP4 127\.0\.0\.1 127\.0\.0\.1 \d+ \d+$/);
    expect(lines[0]!.split(' ')[5]).toBe(String(balancer.port));
  });

  it('a backend that refuses connections is retried on another before the client sees an error, then ejected', async () => {
    const [a] = await nodes(1);
    const dead = await ScriptedBackend.start();
    const deadAddress = dead.address;
    const balancer = await balancerFor([`127.0.0.1:${a!.port}`, deadAddress], { algorithm: 'round-robin', ejectAfterFailures: 2, healthInterval: 30 });
    await dead.stop();
    const sockets = await openMany(balancer.port, 10, 1);
    cleanups.push(() => closeAll(sockets));
    expect(a!.core.connections.size).toBe(10);
    const sdk = sdkThrough(balancer);
    for (let i = 0; i < 6; i++) expect((await sdk.trigger('c', 'e', {})).status).toBe(200);
    const described = balancer.describe() as { backends: Array<{ address: string; ejected: boolean }> };
    expect(described.backends.find((x) => x.address === deadAddress)!.ejected).toBe(true);
    const metrics = await (await fetch(`http://127.0.0.1:${balancer.port}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`switchboard_balancer_ejections_total\\{backend="${deadAddress}"\\} 1`));
    expect(metrics).toMatch(/switchboard_balancer_proxy_errors_total\{kind="connect"\} [1-9]/);
  });

  it('a draining backend gets no new connections and keeps its existing ones', async () => {
    const [n] = await nodes(1);
    const scripted = await ScriptedBackend.start();
    cleanups.push(() => scripted.stop());
    const balancer = await balancerFor([scripted.address, `127.0.0.1:${n!.port}`], { algorithm: 'round-robin' });
    const before = await openMany(balancer.port, 4, 1);
    cleanups.push(() => closeAll(before));
    expect(scripted.sockets.size).toBe(2);
    scripted.ready = { status: 503, body: { ready: false, draining: true } };
    await until(() => balancer.set.get(scripted.address)!.health.state === 'draining', 3000, 'draining');
    const after = await openMany(balancer.port, 6, 2);
    cleanups.push(() => closeAll(after));
    expect(scripted.sockets.size).toBe(2);
    expect(n!.core.connections.size).toBe(8);
    // The old tunnels still carry traffic both ways.
    const onScripted = before.filter((_, i) => i % 2 === 0);
    for (const ws of onScripted) {
      ws.send('ping-through');
      const [echo] = (await once(ws, 'message')) as [Buffer];
      expect(String(echo)).toBe('ping-through');
    }
    const endpoints = (await (await fetch(`http://127.0.0.1:${balancer.port}/endpoints`)).json()) as { endpoints: Array<{ address: string; url: string }> };
    expect(endpoints.endpoints.map((e) => e.address)).toEqual([`127.0.0.1:${n!.port}`]);
    expect(endpoints.endpoints[0]!.url).toBe(`ws://127.0.0.1:${n!.port}`);
  });

  it('limits: beyond them a bounded wait, then close 4100 for WebSockets and 503 for HTTP', async () => {
    const [a] = await nodes(1);
    const balancer = await balancerFor([`127.0.0.1:${a!.port}`], { maxConnections: 2, queueTimeout: 0.3 });
    const open = await openMany(balancer.port, 2, 1);
    cleanups.push(() => closeAll(open));
    const started = Date.now();
    const ws = new WebSocket(`ws://127.0.0.1:${balancer.port}${WS_PATH}`);
    const [code] = (await once(ws, 'close')) as [number];
    expect(code).toBe(4100);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    const res = await fetch(`http://127.0.0.1:${balancer.port}/apps/app-id/channels`);
    expect(res.status).toBe(503);
    // Room again: one closes, a waiting one gets in.
    const waiting = openPusherSocket(balancer.port);
    await sleep(50);
    open[0]!.terminate();
    cleanups.push(async () => (await waiting).terminate());
    await waiting;
  });

  it('GET /balancer describes the backends; /metrics has the balancer metrics', async () => {
    const [a, b] = await nodes(2);
    const balancer = await balancerFor([`127.0.0.1:${a!.port}=5`, `127.0.0.1:${b!.port}`], { algorithm: 'weighted-round-robin' });
    const sockets = await openMany(balancer.port, 7, 1);
    cleanups.push(() => closeAll(sockets));
    const body = (await (await fetch(`http://127.0.0.1:${balancer.port}/balancer`)).json()) as {
      algorithm: string;
      backends: Array<{
        address: string;
        state: string;
        activeConnections: number;
        weight: number;
        health: Array<{ to: string }>;
        load: { elu: number } | null;
      }>;
    };
    expect(body.algorithm).toBe('weighted-round-robin');
    expect(body.backends.map((x) => [x.weight, x.activeConnections, x.state])).toEqual([
      [5, 6, 'up'],
      [1, 1, 'up'],
    ]);
    expect(body.backends[0]!.health.map((h) => h.to)).toEqual(['up']);
    expect(typeof body.backends[0]!.load?.elu).toBe('number');
    const metrics = await (await fetch(`http://127.0.0.1:${balancer.port}/metrics`)).text();
    expect(metrics).toContain(`switchboard_balancer_connections{backend="127.0.0.1:${a!.port}"} 6`);
    expect(metrics).toMatch(/switchboard_balancer_selections_total\{backend="[^"]+",kind="websocket"\} \d/);
    expect(metrics).toMatch(/switchboard_balancer_health_transitions_total\{backend="[^"]+",to="up"\} 1/);
  });

  it('consistent hashing keeps an app key on one backend', async () => {
    const list = await nodes(3);
    const balancer = await balancerFor(
      list.map((n) => `127.0.0.1:${n.port}`),
      { algorithm: 'consistent-hash' },
    );
    const home = async (): Promise<number> => {
      const ws = await openPusherSocket(balancer.port);
      const index = list.findIndex((n) => n.core.connections.size === 1);
      await closeAll([ws]);
      await until(() => list.every((n) => n.core.connections.size === 0), 3000, 'closed');
      return index;
    };
    const first = await home();
    expect(await home()).toBe(first);
    // One app key, six connections: the bound (1.25 × share) spills the rest clockwise.
    const sockets = await openMany(balancer.port, 6, 1);
    cleanups.push(() => closeAll(sockets));
    const counts = list.map((n) => n.core.connections.size);
    expect(counts.reduce((s, c) => s + c, 0)).toBe(6);
    expect(Math.max(...counts)).toBeLessThanOrEqual(Math.ceil((1.25 * 6) / 3));
  });
});
