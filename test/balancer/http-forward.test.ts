import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Balancer } from '../../src/balancer/balancer.js';
import { backendsUp, startBalancer } from './helpers.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const READY = JSON.stringify({ ready: true, load: { connections: 0, elu: 0, state: 'ready' } });

/** A backend that passes health checks and answers everything else with `handle`; it counts the API requests it saw. */
async function backend(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ address: string; seen: string[] }> {
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    if (req.url === '/ready') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(READY);
      return;
    }
    seen.push(`${req.method} ${req.url}`);
    handle(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  );
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

async function balancerFor(backends: string[], overrides = {}): Promise<Balancer> {
  const balancer = await startBalancer({ backend: backends, algorithm: 'round-robin', ...overrides });
  cleanups.push(() => balancer.stop());
  await backendsUp(balancer);
  return balancer;
}

async function errorCount(balancer: Balancer, kind: string): Promise<number> {
  const metrics = await (await fetch(`http://127.0.0.1:${balancer.port}/metrics`)).text();
  const line = metrics.split('\n').find((l) => l.startsWith(`switchboard_balancer_proxy_errors_total{kind="${kind}"}`));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

describe('balancer HTTP forwarding (keep-alive pools)', () => {
  it('relays the answer intact: status, repeated Set-Cookie, Content-Length and a 1 MiB body byte for byte', async () => {
    const big = Buffer.alloc(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const b = await backend((req, res) => {
      res.writeHead(201, [
        ['content-type', 'application/octet-stream'],
        ['content-length', String(big.length)],
        ['set-cookie', 'a=1'],
        ['set-cookie', 'b=2'],
      ]);
      res.end(req.method === 'HEAD' ? undefined : big);
    });
    const balancer = await balancerFor([b.address]);
    const res = await fetch(`http://127.0.0.1:${balancer.port}/apps/1/blob`);
    expect(res.status).toBe(201);
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(res.headers.get('content-length')).toBe(String(big.length));
    expect(Buffer.from(await res.arrayBuffer()).equals(big)).toBe(true);
    const head = await fetch(`http://127.0.0.1:${balancer.port}/apps/1/blob`, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe(String(big.length));
  });

  it('keeps sockets to the backend open between requests', async () => {
    const peers = new Set<string>();
    const b = await backend((req, res) => {
      peers.add(`${req.socket.remotePort}`);
      res.end('{}');
    });
    const balancer = await balancerFor([b.address]);
    for (let i = 0; i < 20; i++) expect((await fetch(`http://127.0.0.1:${balancer.port}/apps/1/channels`)).status).toBe(200);
    expect(b.seen).toHaveLength(20);
    expect(peers.size).toBe(1);
  });

  it('a backend that never answers gives 504 after requestTimeout, counted as a timeout', async () => {
    const b = await backend(() => undefined);
    const balancer = await balancerFor([b.address], { requestTimeout: 0.5, headersTimeout: 0.5 });
    const started = performance.now();
    const res = await fetch(`http://127.0.0.1:${balancer.port}/apps/1/events`, { method: 'POST', body: '{}' });
    const took = performance.now() - started;
    expect(res.status).toBe(504);
    expect(took).toBeGreaterThanOrEqual(450);
    expect(took).toBeLessThan(3000);
    expect(b.seen).toEqual(['POST /apps/1/events']);
    expect(await errorCount(balancer, 'timeout')).toBe(1);
  });

  it('a reset after the request went out: a GET goes to another backend, a POST is not repeated (it may have reached the node)', async () => {
    const resetting = await backend((req) => req.socket.destroy());
    const good = await backend((_req, res) => res.end('{"ok":true}'));
    const balancer = await balancerFor([resetting.address, good.address]);
    // Round-robin starts each pair with the first backend, so every request meets the resetting one first or second.
    for (let i = 0; i < 4; i++) expect((await fetch(`http://127.0.0.1:${balancer.port}/apps/1/channels`)).status).toBe(200);
    expect(good.seen.filter((s) => s.startsWith('GET'))).toHaveLength(4);
    const posts: number[] = [];
    for (let i = 0; i < 4; i++) posts.push((await fetch(`http://127.0.0.1:${balancer.port}/apps/1/events`, { method: 'POST', body: '{}' })).status);
    const resetPosts = resetting.seen.filter((s) => s.startsWith('POST')).length;
    const goodPosts = good.seen.filter((s) => s.startsWith('POST')).length;
    // Each POST reached exactly one backend: the reset ones got 502 and were not sent again.
    expect(resetPosts + goodPosts).toBe(4);
    expect(resetPosts).toBeGreaterThan(0);
    expect(posts.filter((s) => s === 502)).toHaveLength(resetPosts);
    expect(posts.filter((s) => s === 200)).toHaveLength(goodPosts);
    expect(await errorCount(balancer, 'reset')).toBe(resetting.seen.length);
  });
});
