import { describe, expect, it } from 'vitest';
import { desiredForSignal, desiredNodes, StabilizationWindow, type NodeSignals } from '../../src/monitor/hpa.js';
import { ScalingAdvisor } from '../../src/monitor/scaling.js';

const node = (id: string, connections: number | undefined, ready = true): NodeSignals => ({
  id,
  ready,
  values: connections === undefined ? {} : { connections },
});
const target = { name: 'connections', target: 100 };

describe('the HPA rule', () => {
  it('is ceil(current × average / target) on the ready nodes', () => {
    const nodes = [node('a', 150), node('b', 170)];
    expect(desiredForSignal(2, nodes, target, 0.1).desired).toBe(4); // ratio 1.6 × 2 = 3.2 → 4
  });

  it('keeps the count within the tolerance', () => {
    expect(desiredForSignal(2, [node('a', 108), node('b', 108)], target, 0.1).desired).toBe(2);
    expect(desiredForSignal(2, [node('a', 92), node('b', 92)], target, 0.1).desired).toBe(2);
    expect(desiredForSignal(2, [node('a', 112), node('b', 112)], target, 0.1).desired).toBe(3);
  });

  it('scales down by the same rule', () => {
    expect(desiredForSignal(4, [node('a', 20), node('b', 20), node('c', 20), node('d', 20)], target, 0.1).desired).toBe(1);
  });

  it('counts nodes missing the metric as 0% of target on a scale-up', () => {
    // Ready ones at 200 (ratio 2); a third without the metric: (200+200+0)/3 = 133 → ceil(1.33 × 3) = 4.
    const advice = desiredForSignal(3, [node('a', 200), node('b', 200), node('c', undefined)], target, 0.1);
    expect(advice.desired).toBe(4);
    expect(advice.reason).toContain('1 missing the metric');
  });

  it('counts nodes missing the metric as 100% of target on a scale-down', () => {
    // Ready ones at 20 (ratio 0.2); a third counted at 100: (20+20+100)/3 = 46.7 → ceil(0.467 × 3) = 2.
    expect(desiredForSignal(3, [node('a', 20), node('b', 20), node('c', undefined)], target, 0.1).desired).toBe(2);
  });

  it('counts not-ready nodes as 0% on a scale-up and leaves them out of a scale-down', () => {
    expect(desiredForSignal(3, [node('a', 300), node('b', 0, false), node('c', 0, false)], target, 0.1).desired).toBe(3); // 300/3 = 1.0: within tolerance
    expect(desiredForSignal(2, [node('a', 400), node('b', 0, false)], target, 0.1).desired).toBe(4); // 400/2 = 2 → 4
    expect(desiredForSignal(2, [node('a', 20), node('b', 0, false)], target, 0.1).desired).toBe(1);
  });

  it('makes no move when the adjustment reverses the direction', () => {
    // Ratio 1.2 from the ready node; with two missing at 0 on the way up: 120/3 = 0.4 → would be a scale-down: no change.
    expect(desiredForSignal(3, [node('a', 120), node('b', undefined), node('c', undefined)], target, 0.1).desired).toBe(3);
  });

  it('keeps the count when no ready node reports the signal', () => {
    const advice = desiredForSignal(3, [node('a', undefined), node('b', undefined)], target, 0.1);
    expect(advice).toMatchObject({ desired: 3, ratio: null });
  });

  it('takes the largest count over several signals', () => {
    const nodes: NodeSignals[] = [
      { id: 'a', ready: true, values: { connections: 50, eventLoopUtilization: 0.9 } },
      { id: 'b', ready: true, values: { connections: 50, eventLoopUtilization: 0.9 } },
    ];
    const result = desiredNodes(2, nodes, [target, { name: 'eventLoopUtilization', target: 0.6 }], 0.1);
    expect(result.desired).toBe(3); // connections say 1, ELU says ceil(1.5 × 2) = 3
    expect(result.deciding?.signal).toBe('eventLoopUtilization');
  });

  it('ignores signals whose target is 0', () => {
    const result = desiredNodes(2, [node('a', 500), node('b', 500)], [{ name: 'connections', target: 0 }], 0.1);
    expect(result).toMatchObject({ desired: 2, signals: [] });
  });
});

describe('stabilization', () => {
  it('scales up at once and down only after the window has seen nothing higher', () => {
    const w = new StabilizationWindow(300_000);
    expect(w.push(2, 0)).toBe(2);
    expect(w.push(5, 10_000)).toBe(5);
    expect(w.push(1, 20_000)).toBe(5);
    expect(w.push(1, 310_000)).toBe(5); // the 5 of t = 10 s is still inside the window
    expect(w.push(1, 310_001)).toBe(1);
  });
});

describe('ScalingAdvisor', () => {
  const settings = { targetConnections: 100, targetElu: 0, targetCpu: 0, tolerance: 0.1, stabilizationMs: 60_000, minNodes: 2, maxNodes: 3 };

  it('never scales up on the window alone: after a scale-down (or under a new leader) the count stays', () => {
    const advisor = new ScalingAdvisor({ ...settings, minNodes: 1 }, 'n1');
    const busy = [1, 2, 3].map((i) => ({ id: `n${i}`, load: { connections: 150 } }));
    expect(advisor.compute(busy, 0)).toMatchObject({ current: 3, desired: 3 });
    // The supervisor (or an operator) went down to 1 on another node's advice; this one still remembers 3.
    const after = advisor.compute([{ id: 'n1', load: { connections: 5 } }], 10_000);
    expect(after).toMatchObject({ current: 1, desired: 1, recommended: 1 });
  });

  it('clamps to min and max and says why', () => {
    const advisor = new ScalingAdvisor(settings, 'n1');
    const up = advisor.compute([{ id: 'a', load: { connections: 1000 } }], 0);
    expect(up).toMatchObject({ desired: 3, recommended: 10, current: 1 });
    expect(up.reason).toMatch(/scale up 1 → 3/);
    expect(up.reason).toContain('capped at scalingMaxNodes 3');
  });

  it('leaves draining nodes out, holds a scale-down for the window, then gives min', () => {
    const advisor = new ScalingAdvisor(settings, 'n1');
    const busy = [
      { id: 'a', load: { connections: 150 } },
      { id: 'b', load: { connections: 150 } },
      { id: 'c', load: { connections: 0, state: 'draining' as const } },
    ];
    expect(advisor.compute(busy, 0)).toMatchObject({ current: 2, desired: 3 });
    const idle = [
      { id: 'a', load: { connections: 1 } },
      { id: 'b', load: { connections: 1 } },
    ];
    const held = advisor.compute(idle, 30_000);
    // The window holds the count at the current 2 (the HPA's rule): it does not raise it to the 3 it remembers.
    expect(held).toMatchObject({ current: 2, desired: 2, recommended: 1 });
    expect(held.reason).toContain('scale-down held');
    // After a scale-up to 3 that the load no longer needs: held at 3 for the window, then down.
    const three = [...idle, { id: 'c', load: { connections: 1 } }];
    expect(advisor.compute(three, 40_000)).toMatchObject({ current: 3, desired: 3, recommended: 1 });
    const after = advisor.compute(idle, 61_000);
    expect(after).toMatchObject({ desired: 2, recommended: 1 });
    expect(after.reason).toContain('raised to scalingMinNodes 2');
  });
});
