import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { balancerOptions, loadBalancerConfig, parseBackendSpec } from '../../src/balancer/config.js';
import { LoadSampler } from '../../src/balancer/node-load.js';
import { ConfigError } from '../../src/config/errors.js';
import type { RunningNode } from '../../src/node.js';
import { blockFor, busyRhythm } from '../helpers/busy-loop.js';
import { startTestNode } from '../helpers/node.js';
import { backendsUp, closeAll, openMany, sleep, startBalancer, until } from './helpers.js';

const TOKEN = 'node-admin-token-0123456789';
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function node(overrides = {}): Promise<RunningNode> {
  const n = await startTestNode(overrides);
  cleanups.push(() => n.stop({ drainSeconds: 0 }));
  return n;
}

function closeCall(port: number, body: unknown, token?: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/admin/connections/close`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}

describe('node side: admin close endpoint', () => {
  it('is 404 when no adminToken is set', async () => {
    const n = await node();
    expect((await closeCall(n.port, { count: 1 }, TOKEN)).status).toBe(404);
  });

  it('refuses a wrong or missing token (401) and a bad body (400)', async () => {
    const n = await node({ adminToken: TOKEN });
    expect((await closeCall(n.port, { count: 1 })).status).toBe(401);
    expect((await closeCall(n.port, { count: 1 }, `${TOKEN}x`)).status).toBe(401);
    expect((await closeCall(n.port, { count: -1 }, TOKEN)).status).toBe(400);
    expect((await closeCall(n.port, 'x', TOKEN)).status).toBe(400);
    expect((await fetch(`http://127.0.0.1:${n.port}/admin/connections/close`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(405);
    expect(
      (await fetch(`http://127.0.0.1:${n.port}/admin/connections/close`, { method: 'POST', headers: { authorization: TOKEN }, body: '{"count":1}' })).status,
    ).toBe(401);
  });

  it('closes N connections with 4200', async () => {
    const n = await node({ adminToken: TOKEN });
    const sockets = await openMany(n.port, 5, 5);
    cleanups.push(() => closeAll(sockets));
    const codes: number[] = [];
    for (const ws of sockets) ws.on('close', (code) => codes.push(code));
    const res = await closeCall(n.port, { count: 2 }, TOKEN);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ closed: 2, connections: 3 });
    await until(() => codes.length === 2, 3000, 'two closed');
    expect(codes).toEqual([4200, 4200]);
    expect(n.core.connections.size).toBe(3);
  });
});

describe('node side: load report', () => {
  it('reports connections, event-loop utilization over the last interval, memory and state in /ready', async () => {
    const n = await node();
    const sockets = await openMany(n.port, 2, 2);
    cleanups.push(() => closeAll(sockets));
    const body = (await (await fetch(`http://127.0.0.1:${n.port}/ready`)).json()) as { load: Record<string, unknown> };
    expect(body.load).toMatchObject({ connections: 2, state: 'ready' });
    expect(body.load.rssBytes).toBeGreaterThan(0);
  });

  it('with the monitor off: utilization is a delta per interval, not the cumulative figure', async () => {
    const sampler = new LoadSampler(null, 100);
    cleanups.push(() => sampler.stop());
    blockFor(250);
    // The overdue sampling timer runs before this one: its interval was the busy one.
    await sleep(5);
    const busy = sampler.report(0, false).elu;
    await sleep(350);
    const idle = sampler.report(0, false).elu;
    expect(busy).toBeGreaterThan(0.3);
    expect(idle).toBeLessThan(0.3);
  });

  it("with the monitor on: utilization is the monitor's latest sample (0 before the first)", () => {
    let latest: { elu: number } | undefined;
    const sampler = new LoadSampler({ latest: () => latest });
    cleanups.push(() => sampler.stop());
    expect(sampler.report(0, false).elu).toBe(0);
    latest = { elu: 0.4242 };
    expect(sampler.report(0, false).elu).toBe(0.424);
  });

  it("a node's /ready utilization is its monitor's, and it is still measured with the monitor off", async () => {
    const on = await node({ monitorIntervalMs: 100 });
    // The loop shared with the node busy about half the time, so the figures are far from 0 and from each other's windows.
    const stopSpinning = busyRhythm(20, 20);
    try {
      const lastSample = async (): Promise<{ at: number; elu: number } | undefined> =>
        ((await (await fetch(`http://127.0.0.1:${on.port}/alerts?history=1`)).json()) as { history: Array<{ at: number; elu: number }> }).history.at(-1);
      let compared = false;
      // Compared only when no sample landed between the reads around /ready.
      for (let i = 0; i < 50 && !compared; i++) {
        const before = await lastSample();
        const ready = (await (await fetch(`http://127.0.0.1:${on.port}/ready`)).json()) as { load: { elu: number } };
        const after = await lastSample();
        if (before === undefined || before.at !== after?.at) continue;
        expect(ready.load.elu).toBe(before.elu);
        compared = true;
      }
      expect(compared).toBe(true);
    } finally {
      stopSpinning();
    }
    const off = await node({ monitor: false });
    await sleep(1100);
    const body = (await (await fetch(`http://127.0.0.1:${off.port}/ready`)).json()) as { load: { elu: number } };
    expect(body.load.elu).toBeGreaterThan(0);
    expect(body.load.elu).toBeLessThanOrEqual(1);
  });
});

describe('balancer config and tunnels', () => {
  it('derives flags and env names from the schema, and reads both', () => {
    expect(balancerOptions.find((o) => o.key === 'hashBalanceFactor')).toMatchObject({
      flag: 'hash-balance-factor',
      envName: 'SWITCHBOARD_BALANCER_HASH_BALANCE_FACTOR',
      kind: 'number',
      defaultValue: 1.25,
    });
    const config = loadBalancerConfig(
      { backend: ['127.0.0.1:6001=5', '127.0.0.1:6002'], algorithm: 'least-connections' },
      { SWITCHBOARD_BALANCER_SLOW_START: '10', SWITCHBOARD_BALANCER_PROXY_PROTOCOL: 'true' },
    );
    expect(config).toMatchObject({ algorithm: 'least-connections', slowStart: 10, proxyProtocol: true, listen: 8080 });
    expect(Object.isFrozen(config)).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'sb-balance-config-'));
    try {
      const file = join(dir, 'balance.yaml');
      writeFileSync(file, 'algorithm: random\nslowStart: 5\nbackend:\n  - 127.0.0.1:7001\n');
      // File < env < flags.
      expect(loadBalancerConfig({ config: file, slowStart: '7' }, { SWITCHBOARD_BALANCER_ALGORITHM: 'p2c' })).toMatchObject({
        algorithm: 'p2c',
        slowStart: 7,
        backend: ['127.0.0.1:7001'],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(parseBackendSpec('127.0.0.1:6001=5')).toEqual({ address: '127.0.0.1:6001', host: '127.0.0.1', port: 6001, weight: 5 });
    expect(parseBackendSpec('[::1]:6002').host).toBe('::1');
    expect(() => loadBalancerConfig({ backend: ['nope'] }, { SWITCHBOARD_BALANCER_TYPO: '1' })).toThrow(ConfigError);
    try {
      loadBalancerConfig({ backend: ['nope'] }, { SWITCHBOARD_BALANCER_TYPO: '1' });
    } catch (err) {
      const paths = (err as ConfigError).issues.map((i) => i.path);
      expect(paths).toContain('SWITCHBOARD_BALANCER_TYPO');
      expect(paths).toContain('backend.0');
    }
  });

  it('docs/balancer.md documents every option', () => {
    const doc = readFileSync(new URL('../../docs/balancer.md', import.meta.url), 'utf8');
    for (const option of balancerOptions) expect(doc, option.flag).toContain(`| \`--${option.flag}\` |`);
  });

  it('a tunnel outlives the HTTP request timeout; tunnelTimeout closes an idle one', async () => {
    const n = await node();
    const balancer = await startBalancer({ backend: [`127.0.0.1:${n.port}`], requestTimeout: 0.5, headersTimeout: 0.5, tunnelTimeout: 2.5 });
    cleanups.push(() => balancer.stop());
    await backendsUp(balancer);
    const [ws] = await openMany(balancer.port, 1, 1);
    await sleep(1500);
    ws!.send(JSON.stringify({ event: 'pusher:ping', data: {} }));
    const [pong] = (await once(ws!, 'message')) as [Buffer];
    expect(String(pong)).toContain('pusher:pong');
    const started = Date.now();
    const [code] = (await once(ws!, 'close')) as [number];
    expect(code).toBe(1006);
    expect(Date.now() - started).toBeGreaterThan(1500);
    expect(ws!.readyState).toBe(WebSocket.CLOSED);
    await until(() => n.core.connections.size === 0, 3000, 'node side closed too');
  });
});
