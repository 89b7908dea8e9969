import { describe, expect, it } from 'vitest';
import { nodeArguments } from '../../src/cli/cluster.js';
import { RestartBackoff } from '../../src/supervisor/backoff.js';
import { readAdvice } from '../../src/supervisor/advice.js';
import { decideStep, type DecisionInput, type DecisionSettings } from '../../src/supervisor/decide.js';

const settings: DecisionSettings = { minNodes: 1, maxNodes: 3, upCooldownMs: 10_000, downCooldownMs: 30_000 };
const advice = (desired: number, current: number) => ({ desired, current, reason: `test ${current} → ${desired}` });
const input = (over: Partial<DecisionInput>): DecisionInput => ({
  running: 1,
  busy: null,
  advice: advice(1, 1),
  now: 100_000,
  lastStepAt: Number.NEGATIVE_INFINITY,
  ...over,
});

describe('decideStep', () => {
  it('steps one node at a time towards the advice, whatever the advice asks for', () => {
    expect(decideStep(input({ advice: advice(3, 1) }), settings)).toMatchObject({ action: 'up', cause: 'advice' });
    expect(decideStep(input({ running: 3, advice: advice(1, 3) }), settings)).toMatchObject({ action: 'down', cause: 'advice' });
    const up = decideStep(input({ advice: advice(3, 1) }), settings);
    expect(up.reason).toMatch(/^1 → 2 of 3: test 1 → 3/);
  });

  it('holds at the advice', () => {
    expect(decideStep(input({ running: 2, advice: advice(2, 2) }), settings)).toMatchObject({ action: 'hold', reason: expect.stringMatching(/at the advice/) });
  });

  it('clamps the advice to min and max: no step past them', () => {
    expect(decideStep(input({ running: 3, advice: advice(5, 3) }), settings).action).toBe('hold');
    expect(decideStep(input({ running: 1, advice: advice(0, 1) }), settings).action).toBe('hold');
    expect(decideStep(input({ running: 2, advice: advice(0, 2) }), { ...settings, minNodes: 2 }).action).toBe('hold');
  });

  it('restores the bounds without advice and without cooldown', () => {
    const now = 100_000;
    expect(decideStep(input({ running: 0, advice: null, lastStepAt: now }), { ...settings })).toMatchObject({ action: 'up', cause: 'min-nodes' });
    expect(decideStep(input({ running: 4, advice: null, lastStepAt: now }), settings)).toMatchObject({ action: 'down', cause: 'max-nodes' });
  });

  it('waits out the cooldown after a step, longer for scale-down', () => {
    const now = 100_000;
    expect(decideStep(input({ advice: advice(2, 1), lastStepAt: now - 9_000 }), settings)).toMatchObject({
      action: 'hold',
      reason: expect.stringMatching(/scale-up cooldown: 1 s left/),
    });
    expect(decideStep(input({ advice: advice(2, 1), lastStepAt: now - 10_000 }), settings).action).toBe('up');
    expect(decideStep(input({ running: 2, advice: advice(1, 2), lastStepAt: now - 10_000 }), settings)).toMatchObject({
      action: 'hold',
      reason: expect.stringMatching(/scale-down cooldown: 20 s left/),
    });
    expect(decideStep(input({ running: 2, advice: advice(1, 2), lastStepAt: now - 30_000 }), settings).action).toBe('down');
  });

  it('holds while a step or a restart is under way', () => {
    expect(decideStep(input({ advice: advice(3, 1), busy: 'node 1 starting' }), settings)).toEqual({ action: 'hold', reason: 'waiting: node 1 starting' });
    // Even the bounds wait: the pending node may be what restores them.
    expect(decideStep(input({ running: 0, busy: 'node 0 restarting' }), settings).action).toBe('hold');
  });

  it('ignores advice that has not counted the nodes running now (heartbeats behind the last step)', () => {
    const d = decideStep(input({ running: 2, advice: advice(3, 1) }), settings);
    expect(d).toMatchObject({ action: 'hold', reason: expect.stringMatching(/advice counts 1 nodes, 2 running/) });
  });

  it('holds without advice', () => {
    expect(decideStep(input({ advice: null }), settings)).toMatchObject({ action: 'hold', reason: expect.stringMatching(/no scaling advice/) });
  });
});

describe('RestartBackoff', () => {
  it('doubles from 0.5 s per crash up to the maximum', () => {
    const b = new RestartBackoff(5000);
    const delays = [0, 1, 2, 3, 4, 5].map((i) => b.crashed(i * 1000, i * 1000 + 100));
    expect(delays).toEqual([500, 1000, 2000, 4000, 5000, 5000]);
    expect(b.consecutive).toBe(6);
  });

  it('starts over after a run that lasted a minute', () => {
    const b = new RestartBackoff(30_000);
    b.crashed(0, 100);
    b.crashed(200, 300);
    expect(b.crashed(1000, 1000 + 60_000)).toBe(500);
    expect(b.consecutive).toBe(1);
  });
});

describe('readAdvice', () => {
  it('takes the leader advice fields and refuses anything else', () => {
    expect(readAdvice({ desired: 2, current: 1, reason: 'r', leader: 'x' })).toEqual({ desired: 2, current: 1, reason: 'r' });
    // Before the first sample a node answers desired: null.
    expect(readAdvice({ desired: null, current: null, reason: 'no sample yet' })).toBeNull();
    expect(readAdvice({ desired: -1, current: 1 })).toBeNull();
    expect(readAdvice({ desired: 1.5, current: 1 })).toBeNull();
    expect(readAdvice('nope')).toBeNull();
  });
});

describe('nodeArguments', () => {
  it("passes the supervisor's own flags on to every node, except the public host and port", () => {
    expect(nodeArguments({ port: '6001', host: '0.0.0.0', adapter: 'redis', scalingMinNodes: '2', monitor: true, apps: '[{"id":"a"}]', x: undefined })).toEqual(
      ['--adapter', 'redis', '--scaling-min-nodes', '2', '--monitor', '--apps', '[{"id":"a"}]'],
    );
  });
});
