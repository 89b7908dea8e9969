import { describe, expect, it } from 'vitest';
import { registry } from '../../src/metrics/index.js';
import { busyRhythm } from '../helpers/busy-loop.js';
import { useTestResources } from '../helpers/lifecycle.js';
import { type RawClient, serverSdk, sleep, type TestResources } from '../helpers/node.js';
import type { RunningNode } from '../../src/node.js';

/** Poll until `check` passes (bounded). */
async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, ms = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

async function get(node: RunningNode, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${node.port}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function refusedWith(resources: TestResources, node: RunningNode): Promise<{ code: number; error: unknown }> {
  const client = await resources.raw(node);
  const code = await client.closed();
  return { code, error: client.messages.find((m) => m.event === 'pusher:error')?.data };
}

async function metricValue(name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return value?.value ?? 0;
}

const QUIET_OTHERS = { monitorLoopDelayWarnMs: 60_000, monitorLoopDelayCriticalMs: 60_000, monitorMemoryWarn: 1, monitorMemoryCritical: 1 };

describe('admission control', () => {
  const resources = useTestResources();

  it('past the connections-critical threshold: new WebSockets get 4100, old ones stay and receive, /ready 503, the API publishes; under warn it accepts again', async () => {
    // Only the connection signal in play: a loaded test machine must not trip the loop-delay or memory ones.
    const node = await resources.node({
      maxConnections: 10,
      monitorConnectionsWarn: 0.3,
      monitorConnectionsCritical: 0.5,
      monitorIntervalMs: 100,
      monitorMinDuration: 0,
      ...QUIET_OTHERS,
    });
    const refusedBefore = await metricValue('switchboard_admission_refused_total', { signal: 'connections' });
    const clients: RawClient[] = [];
    for (let i = 0; i < 5; i++) clients.push(await resources.raw(node));
    for (const c of clients) c.ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'load-test' } }));
    await Promise.all(clients.map((c) => c.next((m) => m.event === 'pusher_internal:subscription_succeeded')));

    const ready = await eventually(
      async () => {
        const r = await get(node, '/ready');
        return r.status === 503 ? r : undefined;
      },
      3000,
      '/ready 503',
    );
    expect(ready.body).toMatchObject({ ready: false, draining: false });
    expect(String(ready.body.overloaded)).toContain('connections critical');
    expect((await get(node, '/health')).status).toBe(200);

    const refused = await refusedWith(resources, node);
    expect(refused.code).toBe(4100);
    expect(refused.error).toMatchObject({ code: 4100 });
    expect(await metricValue('switchboard_admission_refused_total', { signal: 'connections' })).toBe(refusedBefore + 1);

    const alerts = await get(node, '/alerts');
    // Other signals may alert too on a busy test machine: only the connections alert is asserted.
    expect(alerts.body.active).toEqual(expect.arrayContaining([expect.objectContaining({ signal: 'connections', level: 'critical', status: 'firing' })]));
    expect((alerts.body.levels as Record<string, string>).connections).toBe('critical');

    // HTTP API publishes are never refused for load; the old clients keep receiving.
    await serverSdk(node).trigger('load-test', 'still-here', { n: 1 });
    for (const c of clients) await c.next((m) => m.event === 'still-here');
    for (const c of clients) expect(c.closeCode).toBeUndefined();

    // 1 of 10 is under the warn threshold (0.3, cleared under 0.27): accepting again, the alert resolved.
    for (const c of clients.slice(0, 4)) c.ws.close();
    await eventually(async () => ((await get(node, '/ready')).status === 200 ? true : undefined), 3000, '/ready 200');
    const after = await eventually(
      async () => {
        const a = await get(node, '/alerts');
        return (a.body.active as Array<{ signal: string }>).some((x) => x.signal === 'connections') ? undefined : a;
      },
      3000,
      'the connections alert to clear',
    );
    const again = await resources.raw(node);
    await again.next((m) => m.event === 'pusher:connection_established');
    // Connects and closes land between samples, so warn notices may come between: a critical firing, the clearing last, one alert id.
    const notices = (after.body.recent as Array<{ status: string; signal: string; level: string; alertId: string }>).filter((n) => n.signal === 'connections');
    expect(notices.some((n) => n.status === 'firing' && n.level === 'critical')).toBe(true);
    expect(new Set(notices.map((n) => n.alertId)).size).toBe(1);
    expect(notices.at(-1)).toMatchObject({ status: 'resolved', level: 'ok' });
  });

  it('maxConnections reached is connections-critical: 4100 and /ready 503 at once, even with the monitor off', async () => {
    const node = await resources.node({ maxConnections: 2, monitor: false });
    await resources.raw(node);
    await resources.raw(node);
    const ready = await get(node, '/ready');
    expect(ready.status).toBe(503);
    expect(String(ready.body.overloaded)).toContain('connections at the limit (2 of 2, maxConnections)');
    expect((await refusedWith(resources, node)).code).toBe(4100);
    expect((await get(node, '/alerts')).status).toBe(404);
  });

  // Timing-bound on a busy CI machine (it once missed 503 within 5 s there, 2026-12-02): a longer wait, and one retry on a fresh node.
  // The likely cause was the monitor's, since fixed: a block starting just after a sample was never recorded (test/monitor/sampler.test.ts).
  it('past the event-loop delay threshold: 4100 while the loop is blocked, accepting again once it is not', { retry: 1, timeout: 40_000 }, async () => {
    const node = await resources.node({
      monitorLoopDelayWarnMs: 20,
      monitorLoopDelayCriticalMs: 60,
      monitorIntervalMs: 200,
      monitorMinDuration: 0,
      monitorMemoryWarn: 1,
      monitorMemoryCritical: 1,
    });
    const old = await resources.raw(node);
    // Block the (shared) event loop for 150 ms out of every 200 ms: this is the overload.
    const stopBlocking = busyRhythm(150, 50);
    try {
      await eventually(async () => ((await get(node, '/ready')).status === 503 ? true : undefined), 15_000, 'loop-delay critical');
      // A loaded test machine can stretch the blocked/unblocked rhythm: try a few sockets, one must be refused for the loop.
      let refused: { code: number; error: unknown } | null = null;
      for (let i = 0; i < 5 && refused === null; i++) {
        const client = await resources.raw(node);
        const code = await client.closed(3000).catch(() => null);
        if (code !== null) refused = { code, error: client.messages.find((m) => m.event === 'pusher:error')?.data };
      }
      expect(refused?.code).toBe(4100);
      expect(String((refused?.error as { message?: string } | undefined)?.message)).toContain('eventLoopDelay critical');
    } finally {
      stopBlocking();
    }
    await eventually(async () => ((await get(node, '/ready')).status === 200 ? true : undefined), 15_000, 'loop-delay back to ok');
    const again = await resources.raw(node);
    await again.next((m) => m.event === 'pusher:connection_established');
    expect(old.closeCode).toBeUndefined();
  });

  it('under critical memory, sheds the connection with the most unsent bytes (4200) and keeps the readers', async () => {
    const node = await resources.node({
      monitorMemoryWarn: 0.01,
      monitorMemoryCritical: 0.01,
      monitorMinDuration: 1.5,
      monitorIntervalMs: 100,
      monitorShedPerInterval: 1,
      maxSendBufferBytes: 256 * 1024 * 1024,
    });
    const reader = await resources.raw(node);
    const slow = await resources.raw(node);
    for (const c of [reader, slow]) {
      c.ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'bulk' } }));
      await c.next((m) => m.event === 'pusher_internal:subscription_succeeded');
    }
    // The slow one stops reading: the kernel buffers fill, then the node's socket queue grows.
    const shedBefore = await metricValue('switchboard_monitor_shed_connections_total');
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const sdk = serverSdk(node);
    const payload = 'x'.repeat(9000);
    const slowId = slow.socketId;
    const isOpen = (id: string): boolean => [...node.core.connections].some((c) => c.id === id && c.open);
    for (let i = 0; i < 600 && isOpen(slowId); i++) {
      await sdk.triggerBatch(Array.from({ length: 10 }, () => ({ channel: 'bulk', name: 'bulk', data: payload })));
    }
    // Shedding starts only after monitorMinDuration of critical memory, which a fast run's 600 batches
    // can finish before (seen: 1.4 s); the slow one's backlog stays meanwhile, so it is still the one shed.
    await eventually(() => (isOpen(slowId) ? undefined : true), 5000, 'the slow connection shed');
    expect(isOpen(slowId)).toBe(false);
    expect(await metricValue('switchboard_monitor_shed_connections_total')).toBe(shedBefore + 1);
    expect(isOpen(reader.socketId)).toBe(true);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    // 4200 when the close frame gets through behind the backlog, else cut after the 2 s grace.
    expect([4200, 1006]).toContain(await slow.closed(15_000));
    expect(reader.closeCode).toBeUndefined();
    // Memory stays critical: new WebSockets are refused with 4100 meanwhile.
    expect((await refusedWith(resources, node)).code).toBe(4100);
  });
});
