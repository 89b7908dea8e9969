import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../../src/node.js';
import { BrokerProcess, REDIS_BINARY, serviceAvailable } from '../cluster/services.js';
import { eventually } from '../cluster/harness.js';
import { DEV_APP, RawClient, sleep, startTestNode } from '../helpers/node.js';

interface Scaling {
  desired: number;
  current: number;
  reason: string;
  source: string;
  computedBy: string;
  leader: string | null;
}

async function scaling(node: RunningNode): Promise<Scaling> {
  const res = await fetch(`http://127.0.0.1:${node.port}/cluster/scaling`);
  expect(res.status).toBe(200);
  return (await res.json()) as Scaling;
}

async function waitScaling(nodes: RunningNode[], check: (s: Scaling) => boolean, ms: number, what: string): Promise<Scaling[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const all = await Promise.all(nodes.map(scaling));
    if (all.every(check)) return all;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(all)}`);
    await sleep(100);
  }
}

const available = serviceAvailable(REDIS_BINARY, 'redis-server');

describe.runIf(available)('scaling advice across a real cluster (redis)', () => {
  let broker: BrokerProcess;
  const nodes: RunningNode[] = [];
  const raws: RawClient[] = [];

  beforeAll(async () => {
    broker = await BrokerProcess.start('redis');
  });
  afterEach(async () => {
    for (const r of raws.splice(0)) r.close();
    await Promise.all(nodes.splice(0).map((n) => n.stop({ drainSeconds: 0 })));
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it("the leader computes the HPA advice from every node's heartbeats; every node answers it with its reason; scale-down waits for the window", async () => {
    const keyPrefix = `scal${process.pid}`;
    const started = await Promise.all(
      [0, 1, 2].map((i) =>
        startTestNode({
          adapter: 'redis',
          redisUrl: broker.url,
          keyPrefix,
          nodeId: `s${i}`,
          heartbeatInterval: 0.2,
          nodeTimeout: 2,
          leaderLease: 2,
          monitorIntervalMs: 200,
          // In-process nodes share one event loop: connections are the signal here.
          scalingTargetConnections: 4,
          scalingTargetElu: 0,
          scalingStabilizationSeconds: 2,
          scalingMinNodes: 1,
          scalingMaxNodes: 5,
          apps: [{ ...DEV_APP }],
        }),
      ),
    );
    nodes.push(...started);
    await eventually(() => started.every((n) => n.cluster!.peers().length === 2), 5000, 'every node to see the others');
    await eventually(() => started.some((n) => n.cluster!.isLeader), 5000, 'a leader');
    const leader = started.find((n) => n.cluster!.isLeader)!;

    // 6 connections per node against a target of 4: ratio 1.5 → ceil(1.5 × 3) = 5.
    for (const node of started) for (let i = 0; i < 6; i++) raws.push(await RawClient.connect(node));
    const up = await waitScaling(started, (s) => s.desired === 5, 5000, 'scale-up advice');
    for (const s of up) {
      expect(s.current).toBe(3);
      expect(s.reason).toContain('scale up 3 → 5');
      expect(s.reason).toContain('connections: average 6 over 3 node(s) vs target 4 (ratio 1.50)');
    }
    const fromLeader = await scaling(leader);
    expect(fromLeader).toMatchObject({ source: 'this node', leader: leader.cluster!.id });
    const follower = started.find((n) => n !== leader)!;
    expect(await scaling(follower)).toMatchObject({ source: 'leader heartbeat', computedBy: leader.cluster!.id, leader: leader.cluster!.id });
    // The monitor's samples carry the broker link and its round trip (the node's own heartbeat through redis).
    const withHistory = (await (await fetch(`http://127.0.0.1:${follower.port}/alerts?history=1`)).json()) as {
      history: Array<{ broker: { state: string; rttMs: number | null } | null }>;
    };
    const last = withHistory.history.at(-1)!;
    expect(last.broker?.state).toBe('connected');
    expect(last.broker?.rttMs).toBeGreaterThan(0);
    // (One registry for the three in-process nodes: each sets it from the advice it holds, so poll.)
    const deadline = Date.now() + 3000;
    let metrics = '';
    while (!/switchboard_scaling_desired_nodes 5\n/.test(metrics) && Date.now() < deadline) {
      metrics = await (await fetch(`http://127.0.0.1:${follower.port}/metrics`)).text();
      await sleep(50);
    }
    expect(metrics).toMatch(/switchboard_scaling_desired_nodes 5\n/);

    // Load gone: 1 per node → ratio 0.25 → 1 node, but only after the 2 s window has seen nothing higher.
    const gone = raws.splice(3);
    for (const r of gone) r.close();
    const held = await waitScaling([leader], (s) => s.reason.includes('scale-down held'), 5000, 'held scale-down');
    // Held at the 3 nodes running (the window remembers 5, but it only holds scale-downs back, as the HPA's does).
    expect(held[0]!.desired).toBe(3);
    expect(held[0]!.reason).toContain('the highest advice of the last 2 s is 5, so stay at 3');
    const heldAt = Date.now();
    const down = await waitScaling(started, (s) => s.desired === 1, 8000, 'scale-down advice');
    expect(Date.now() - heldAt).toBeGreaterThan(1000);
    expect(down[0]!.reason).toContain('scale down 3 → 1');
  }, 30_000);
});
