import { describe, expect, it } from 'vitest';
import { BackendSet } from '../../src/balancer/backend-set.js';
import { balancerConfig } from '../../src/balancer/config.js';
import { BackendHealth, type HealthSettings } from '../../src/balancer/health.js';
import { RebalancePlanner } from '../../src/balancer/rebalancer.js';

const SETTINGS: HealthSettings = { rise: 2, fall: 3, ejectAfterFailures: 3, ejectBaseMs: 30_000, ejectMaxMs: 300_000, slowStartMs: 60_000 };

describe('health state machine', () => {
  it('rises after 2 good checks, falls after 3 bad ones, and says when it is changing', () => {
    const h = new BackendHealth(SETTINGS, false);
    expect(h.state).toBe('unknown');
    h.checked('ok', 0);
    expect(h.state).toBe('unknown');
    expect(h.changing).toBe(true);
    h.checked('ok', 1);
    expect(h.state).toBe('up');
    expect(h.changing).toBe(false);
    h.checked('failed', 2);
    h.checked('failed', 3);
    expect(h.state).toBe('up');
    h.checked('ok', 4); // a good check in between starts the count over
    h.checked('failed', 5);
    h.checked('failed', 6);
    expect(h.state).toBe('up');
    h.checked('failed', 7);
    expect(h.state).toBe('down');
    expect(h.history.map((t) => t.to)).toEqual(['up', 'down']);
  });

  it('draining is immediate and lasts until the backend is ready again', () => {
    const h = new BackendHealth(SETTINGS, false);
    h.checked('ok', 0);
    h.checked('ok', 1);
    h.checked('draining', 2);
    expect(h.state).toBe('draining');
    h.checked('ok', 3);
    expect(h.state).toBe('draining');
    h.checked('ok', 4);
    expect(h.state).toBe('up');
  });

  it('slow start ramps the weight linearly from a small floor, only for backends that join late or come back', () => {
    const early = new BackendHealth(SETTINGS, false);
    early.checked('ok', 0);
    early.checked('ok', 0);
    expect(early.weightFactor(0)).toBe(1);

    const late = new BackendHealth(SETTINGS, true);
    late.checked('ok', 1000);
    late.checked('ok', 1000);
    expect(late.weightFactor(1000)).toBeCloseTo(0.05);
    expect(late.weightFactor(1000 + 15_000)).toBeCloseTo(0.25);
    expect(late.weightFactor(1000 + 30_000)).toBeCloseTo(0.5);
    expect(late.ramping(1000 + 59_000)).toBe(true);
    expect(late.weightFactor(1000 + 60_000)).toBe(1);
    expect(late.ramping(1000 + 61_000)).toBe(false);

    // Down and back: ramps again.
    for (let i = 0; i < 3; i++) early.checked('failed', 10);
    early.checked('ok', 20);
    early.checked('ok', 20);
    expect(early.weightFactor(20 + 30_000)).toBeCloseTo(0.5);
  });

  it('ejection backoff: 30 s × consecutive ejections, at most 300 s, reset after a clean max period', () => {
    const h = new BackendHealth({ ...SETTINGS, slowStartMs: 0 }, false);
    let now = 0;
    const ejectOnce = (): number => {
      expect(h.connectFailed(now, true)).toBe(false);
      expect(h.connectFailed(now, true)).toBe(false);
      expect(h.connectFailed(now, true)).toBe(true);
      const left = h.ejectionLeft(now);
      now += left; // wait it out
      expect(h.isEjected(now)).toBe(false);
      return left;
    };
    const durations = Array.from({ length: 12 }, () => ejectOnce());
    expect(durations.slice(0, 4)).toEqual([30_000, 60_000, 90_000, 120_000]);
    expect(Math.max(...durations)).toBe(300_000);
    // A success between failures restarts the count of consecutive failures.
    h.connectFailed(now, true);
    h.connectFailed(now, true);
    h.connectSucceeded();
    expect(h.connectFailed(now, true)).toBe(false);
    h.connectSucceeded();
    // Quiet for longer than the max: back to the base time.
    now += 400_000;
    h.connectFailed(now, true);
    h.connectFailed(now, true);
    expect(h.connectFailed(now, true)).toBe(true);
    expect(h.ejectionLeft(now)).toBe(30_000);
  });

  it('never ejects past the allowed share', () => {
    const h = new BackendHealth(SETTINGS, false);
    for (let i = 0; i < 10; i++) expect(h.connectFailed(0, false)).toBe(false);
    expect(h.isEjected(0)).toBe(false);
  });
});

describe('backend set', () => {
  function setOf(n: number, overrides: Record<string, unknown> = {}): { set: BackendSet; clock: { now: number } } {
    const clock = { now: 0 };
    const set = new BackendSet(balancerConfig({ backend: ['x:1'], algorithm: 'least-connections', ...overrides }), () => clock.now);
    for (let i = 0; i < n; i++) set.add('127.0.0.1', 1000 + i, 1, false);
    return { set, clock };
  }

  it('panic mode below half healthy sends traffic to every non-draining backend', () => {
    const { set } = setOf(4);
    const [a, b, c, d] = set.all();
    for (const x of [a, b]) for (let i = 0; i < 2; i++) x!.health.checked('ok', 0);
    expect(set.eligible().length).toBe(2);
    expect(set.panic).toBe(false);
    for (let i = 0; i < 3; i++) b!.health.checked('failed', 1);
    expect(
      set
        .eligible()
        .map((x) => x.address)
        .sort(),
    ).toEqual([a, b, c, d].map((x) => x!.address).sort());
    expect(set.panic).toBe(true);
    d!.health.checked('draining', 2);
    expect(set.eligible()).not.toContain(d);
  });

  it('ejects at most maxEjectedPercent of the backends (at least one)', () => {
    const { set } = setOf(4, { maxEjectedPercent: 25 });
    for (const x of set.all()) for (let i = 0; i < 2; i++) x.health.checked('ok', 0);
    const [a, b] = set.all();
    for (let i = 0; i < 3; i++) a!.health.connectFailed(0, set.mayEject());
    expect(a!.health.isEjected(0)).toBe(true);
    for (let i = 0; i < 3; i++) b!.health.connectFailed(0, set.mayEject());
    expect(b!.health.isEjected(0)).toBe(false);
    expect(set.eligible()).not.toContain(a);
  });

  it('limits: per backend and in total', () => {
    const { set } = setOf(2, { maxConnectionsPerBackend: 1, maxConnections: 3 });
    for (const x of set.all()) for (let i = 0; i < 2; i++) x.health.checked('ok', 0);
    const first = set.choose(undefined, new Set(), true);
    if (typeof first === 'string') throw new Error(first);
    set.acquire(first, 'websocket');
    const second = set.choose(undefined, new Set(), true);
    if (typeof second === 'string') throw new Error(second);
    expect(second).not.toBe(first);
    set.acquire(second, 'websocket');
    expect(set.choose(undefined, new Set(), true)).toBe('full');
  });
});

describe('rebalance pacing', () => {
  it('starts past the threshold, closes at most rate × connections per second, and stops once converged', () => {
    const planner = new RebalancePlanner({ threshold: 1.2, ratePerSecond: 0.01 });
    const counts = new Map([
      ['a', 1000],
      ['b', 1000],
      ['c', 1000],
      ['d', 0],
    ]);
    let seconds = 0;
    let maxPerSecond = 0;
    while (seconds < 600) {
      const views = [...counts].map(([address, connections]) => ({ address, connections, ramping: false }));
      const closes = planner.tick(views, 1);
      seconds++;
      for (const [address, n] of closes) {
        expect(n).toBeLessThanOrEqual(Math.ceil(counts.get(address)! * 0.01));
        maxPerSecond = Math.max(maxPerSecond, n / counts.get(address)!);
        counts.set(address, counts.get(address)! - n);
        // They reconnect, and the balancer sends them to the least loaded node.
        counts.set('d', counts.get('d')! + n);
      }
      if (!planner.active && seconds > 1) break;
    }
    const values = [...counts.values()];
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    expect((Math.max(...values) - Math.min(...values)) / mean).toBeLessThanOrEqual(0.1);
    expect(maxPerSecond).toBeLessThanOrEqual(0.0101);
    // 250 per node at 10/s: about 25 s, not a storm and not forever.
    expect(seconds).toBeGreaterThan(15);
    expect(seconds).toBeLessThan(60);
  });

  it('waits while a backend is in slow start, starts when it ends, and stays idle under the threshold', () => {
    const planner = new RebalancePlanner({ threshold: 1.2, ratePerSecond: 0.5 });
    expect(
      planner.tick(
        [
          { address: 'a', connections: 100, ramping: false },
          { address: 'b', connections: 0, ramping: true },
        ],
        1,
      ).size,
    ).toBe(0);
    // Slow start over: a join starts a round even under the threshold (max/mean 1.07, spread 15%).
    expect(
      planner
        .tick(
          [
            { address: 'a', connections: 110, ramping: false },
            { address: 'b', connections: 95, ramping: false },
          ],
          1,
        )
        .get('a'),
    ).toBe(7);
    expect(planner.active).toBe(true);

    const idle = new RebalancePlanner({ threshold: 1.2, ratePerSecond: 0.5 });
    expect(
      idle.tick(
        [
          { address: 'a', connections: 110, ramping: false },
          { address: 'b', connections: 95, ramping: false },
        ],
        1,
      ).size,
    ).toBe(0);
    expect(idle.active).toBe(false);
  });

  it('small nodes still move, one connection every few seconds at most', () => {
    const planner = new RebalancePlanner({ threshold: 1.2, ratePerSecond: 0.01 });
    let closed = 0;
    for (let s = 0; s < 100; s++) {
      const closes = planner.tick(
        [
          { address: 'a', connections: 50 - closed, ramping: false },
          { address: 'b', connections: closed, ramping: false },
        ],
        1,
      );
      closed += closes.get('a') ?? 0;
    }
    // 50 connections at 1%/s: 0.5 per second.
    expect(closed).toBeGreaterThan(10);
    expect(closed).toBeLessThanOrEqual(51);
  });
});
