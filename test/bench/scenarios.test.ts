import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchResults } from '../../src/bench/results.js';
import { runBenchmark } from '../../src/bench/run.js';
import { SwitchboardBenchUsageError } from '../../src/bench/errors.js';
import type { RunningNode } from '../../src/node.js';
import { startTestNode } from '../helpers/node.js';
import { shortRun, startReference, type ReferenceServer } from './helpers.js';

function expectClean(r: BenchResults): void {
  expect(r.connections.failed).toBe(0);
  expect(r.totals.loss).toBe(0);
  expect(r.totals.duplicates).toBe(0);
  expect(r.thresholds.every((t) => t.pass)).toBe(true);
  expect(r.passed).toBe(true);
}

describe('scenarios against a real Switchboard node', () => {
  let node: RunningNode;
  let url: string;
  beforeAll(async () => {
    node = await startTestNode();
    url = `ws://127.0.0.1:${node.port}`;
  });
  afterAll(async () => node.stop({ drainSeconds: 0 }));

  it('fanout through a forked worker: every publish reaches every subscriber, latency from the schedule', async () => {
    const r = await runBenchmark(shortRun('fanout', 'pusher', url, { workers: 1, metricsUrl: `http://127.0.0.1:${node.port}/metrics` }));
    expectClean(r);
    expect(r.totals.published).toBeGreaterThanOrEqual(19);
    expect(r.totals.expected).toBe(r.totals.published * 15); // 30 subscribers over 2 channels, one channel per publish
    expect(r.totals.delivered).toBe(r.totals.expected);
    expect(r.totals.latencyMs.count).toBe(r.totals.delivered);
    expect(r.totals.latencyMs.p50).toBeGreaterThan(0);
    expect(r.timeline.length).toBeGreaterThan(0);
    expect(r.server.samples.some((s) => s.connections !== undefined)).toBe(true);
  });

  it('chat: client events reach every other member of the room', async () => {
    // With a warm-up: its client events must not leak into the measured phase's counts.
    const r = await runBenchmark(shortRun('chat', 'pusher', url, { warmupMs: 500 }));
    expectClean(r);
    expect(r.totals.clientEvents).toBeGreaterThanOrEqual(19);
    expect(r.totals.delivered).toBe(r.totals.clientEvents * 3);
  });

  it('presence: joins and leaves are seen by the stable members', async () => {
    const r = await runBenchmark(shortRun('presence', 'pusher', url, { pattern: { kind: 'constant', rate: 10 } }));
    expectClean(r);
    expect(r.totals.operations).toBeGreaterThanOrEqual(9);
    expect(r.totals.operationLatencyMs.count).toBe(r.totals.operations);
    expect(r.totals.delivered).toBe(r.totals.operations * 2 * 4);
  });

  it('churn and connections: cycles and connects are timed, nothing fails', async () => {
    const churn = await runBenchmark(shortRun('churn', 'pusher', url));
    expectClean(churn);
    expect(churn.totals.operationLatencyMs.count).toBe(churn.totals.operations);
    const connections = await runBenchmark(shortRun('connections', 'pusher', url, { pattern: { kind: 'constant', rate: 200 } }));
    expectClean(connections);
    expect(connections.connections.open).toBe(40);
    expect(connections.connections.connectMs.count).toBe(40);
  });

  it('soak: fan-out with churn beside it', async () => {
    const r = await runBenchmark(shortRun('soak', 'pusher', url));
    expectClean(r);
    expect(r.totals.delivered).toBeGreaterThan(0);
    expect(r.totals.operations).toBeGreaterThan(0);
  });

  it('find-max steps the rate up until a threshold breaks', async () => {
    const r = await runBenchmark(
      shortRun('fanout', 'pusher', url, {
        durationMs: 500,
        findMax: { factor: 2, maxSteps: 3 },
        thresholds: [{ source: 'rate<700', metric: 'rate', comparator: '<', value: 700, percent: false }],
      }),
    );
    // 30 subscribers / 2 channels = 15 deliveries per publish: 20/s → 300/s ok, 40/s → 600/s ok, 80/s → 1200/s breaks.
    expect(r.phases.map((p) => p.rate)).toEqual([20, 40, 80]);
    expect(r.findMax).toEqual({ lastGoodRate: 40, firstBadRate: 80 });
    expect(r.passed).toBe(true);
  });
});

describe.each(['ws-raw', 'socketio'] as const)('scenarios against the %s reference server', (name) => {
  let server: ReferenceServer;
  beforeAll(async () => {
    server = await startReference(name);
  });
  afterAll(async () => server.stop());

  it('fanout and chat deliver everything; server CPU and RSS come from its pid', async () => {
    const fanout = await runBenchmark(shortRun('fanout', name, server.url, { serverPid: server.pid }));
    expectClean(fanout);
    expect(fanout.totals.delivered).toBe(fanout.totals.published * 15);
    expect(fanout.server.rssEndMiB).toBeGreaterThan(10);
    const chat = await runBenchmark(shortRun('chat', name, server.url));
    expectClean(chat);
    expect(chat.totals.delivered).toBe(chat.totals.clientEvents * 3);
  });

  it('connections and churn', async () => {
    const connections = await runBenchmark(shortRun('connections', name, server.url, { pattern: { kind: 'constant', rate: 200 } }));
    expectClean(connections);
    expect(connections.connections.open).toBe(40);
    const churn = await runBenchmark(shortRun('churn', name, server.url));
    expectClean(churn);
    expect(churn.totals.operations).toBeGreaterThanOrEqual(19);
  });

  it('presence is refused as a usage error: the protocol has none', async () => {
    await expect(runBenchmark(shortRun('presence', name, server.url))).rejects.toBeInstanceOf(SwitchboardBenchUsageError);
  });
});
