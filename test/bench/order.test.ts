import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMarker, type Marker } from '../../src/bench/marker.js';
import { runBenchmark } from '../../src/bench/run.js';
import type { RunningNode } from '../../src/node.js';
import { RawClient, startTestNode } from '../helpers/node.js';
import { shortRun } from './helpers.js';

describe('fan-out order against a real node', () => {
  let node: RunningNode;
  beforeAll(async () => {
    node = await startTestNode();
  });
  afterAll(async () => node.stop({ drainSeconds: 0 }));

  it('publishes that overlap on several keep-alive sockets report 0 out-of-order from a correct server', async () => {
    // A watcher on the run's one channel sees every publish, to show that they did overlap.
    const watcher = await RawClient.connect(node);
    await watcher.event('pusher:connection_established');
    watcher.send({ event: 'pusher:subscribe', data: { channel: 'bench-0' } });
    await watcher.event('pusher_internal:subscription_succeeded');

    const url = `ws://127.0.0.1:${node.port}`;
    // 1,500/s on one channel is one publish every 0.67 ms: several are in flight at once on 8 sockets.
    const base = shortRun('fanout', 'pusher', url);
    const r = await runBenchmark({
      ...base,
      sizes: { ...base.sizes, subscribers: 10, channels: 1 },
      pattern: { kind: 'constant', rate: 1500 },
      durationMs: 1500,
      maxSockets: 8,
    });
    watcher.ws.close();

    expect(r.totals.publishErrors).toBe(0);
    expect(r.totals.published).toBeGreaterThan(2000);
    expect(r.totals.loss).toBe(0);
    expect(r.totals.outOfOrder).toBe(0);

    // What the watcher saw: several connections in use, publishes that overtook each other between
    // them, yet each connection's own in order.
    const marker: Marker = { scheduledMicros: 0, phase: 0, publisher: 0, connection: 0, seq: 0 };
    const seen: Array<{ scheduledMicros: number; connection: number; seq: number }> = [];
    for (const m of watcher.messages) if (m.event === 'bench' && readMarker(String(m.data), marker)) seen.push({ ...marker });
    expect(seen.length).toBe(r.totals.published);
    expect(new Set(seen.map((m) => m.connection)).size).toBeGreaterThan(1);
    // Sent in schedule order, received otherwise: the overlap that one global sequence miscounted.
    const overtaken = seen.filter((m, i) => i > 0 && m.scheduledMicros < (seen[i - 1]?.scheduledMicros ?? 0)).length;
    expect(overtaken).toBeGreaterThan(0);
    const last = new Map<number, number>();
    let reordered = 0;
    for (const { connection, seq } of seen) {
      if (seq < (last.get(connection) ?? -1)) reordered++;
      last.set(connection, Math.max(seq, last.get(connection) ?? -1));
    }
    expect(reordered).toBe(0);
  });
});
