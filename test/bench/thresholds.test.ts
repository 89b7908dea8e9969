import { describe, expect, it } from 'vitest';
import { diffAgainstBaseline } from '../../src/bench/baseline.js';
import type { BenchResults } from '../../src/bench/results.js';
import { evaluateThresholds, parseThreshold, type ThresholdFacts } from '../../src/bench/thresholds.js';

const facts: ThresholdFacts = {
  latency: { p50: 4, p90: 9, p95: 12, p99: 48, p999: 80, max: 120, mean: 5 },
  expected: 100_000,
  loss: 50,
  errors: 3,
  attempts: 10_000,
  duplicates: 0,
  outOfOrder: 7,
  rate: 2500,
};
const verdicts = (...sources: string[]): boolean[] => evaluateThresholds(sources.map(parseThreshold), facts).map((r) => r.pass);

describe('thresholds', () => {
  it('parses k6-style expressions with units', () => {
    expect(parseThreshold('p99<50ms')).toMatchObject({ metric: 'p99', comparator: '<', value: 50, percent: false });
    expect(parseThreshold('max <= 0.2s')).toMatchObject({ metric: 'max', comparator: '<=', value: 200 });
    expect(parseThreshold('errors<0.1%')).toMatchObject({ metric: 'errors', percent: true, value: 0.1 });
    expect(parseThreshold('p99.9<100ms')).toMatchObject({ metric: 'p999' });
    expect(parseThreshold('loss==0')).toMatchObject({ metric: 'loss', comparator: '=', value: 0 });
  });

  it('rejects what it cannot check, saying why', () => {
    expect(() => parseThreshold('p99<<5')).toThrow(/not like/);
    expect(() => parseThreshold('latency<5ms')).toThrow(/unknown metric/);
    expect(() => parseThreshold('p99<5%')).toThrow(/latency/);
    expect(() => parseThreshold('loss<5ms')).toThrow(/count/);
  });

  it('evaluates latency, counts and shares', () => {
    expect(verdicts('p99<50ms', 'p99<48ms', 'p99<=48ms', 'max<0.1s')).toEqual([true, false, true, false]);
    expect(verdicts('loss=0', 'loss<0.1%', 'loss<0.01%')).toEqual([false, true, false]);
    expect(verdicts('errors<0.1%', 'errors<0.01%', 'errors<=3')).toEqual([true, false, true]);
    expect(verdicts('rate>=2500', 'rate>3000', 'duplicates=0', 'outOfOrder<5')).toEqual([true, false, true, false]);
  });

  it('reports the measured value with its unit', () => {
    const [result] = evaluateThresholds([parseThreshold('errors<0.1%')], facts);
    expect(result).toEqual({ threshold: 'errors<0.1%', actual: 0.03, unit: '%', pass: true });
  });
});

function results(overrides: { deliveriesPerSec: number; p99: number; lossPct: number; kib?: number }): BenchResults {
  const latency = { count: 100, mean: 2, p50: 2, p90: 3, p95: 4, p99: overrides.p99, p999: overrides.p99, max: overrides.p99 };
  return {
    totals: {
      delivered: 1000,
      expected: 1000,
      deliveriesPerSec: overrides.deliveriesPerSec,
      latencyMs: latency,
      operationLatencyMs: { ...latency, count: 0 },
      lossPct: overrides.lossPct,
    },
    connections: { open: 10, failed: 0, connectsPerSec: 100, connectMs: latency },
    server: { samples: [], ...(overrides.kib !== undefined ? { memoryPerConnectionKiB: overrides.kib } : {}) },
  } as unknown as BenchResults;
}

describe('baseline diff', () => {
  it('flags figures that moved the wrong way beyond the tolerance', () => {
    const baseline = results({ deliveriesPerSec: 10_000, p99: 20, lossPct: 0, kib: 10 });
    const current = results({ deliveriesPerSec: 9_500, p99: 30, lossPct: 0.5, kib: 10.5 });
    const diffs = diffAgainstBaseline(current, baseline, 10);
    const byName = Object.fromEntries(diffs.map((d) => [d.figure, d]));
    expect(byName['deliveries/s']).toMatchObject({ changePct: -5, regression: false });
    expect(byName['latency p99 ms']).toMatchObject({ changePct: 50, regression: true });
    expect(byName['loss %']?.regression).toBe(true); // from zero, any loss is a regression
    expect(byName['server KiB/connection']?.regression).toBe(false);
  });

  it('improvements are never regressions', () => {
    const baseline = results({ deliveriesPerSec: 10_000, p99: 30, lossPct: 1 });
    const current = results({ deliveriesPerSec: 20_000, p99: 10, lossPct: 0 });
    expect(diffAgainstBaseline(current, baseline, 5).filter((d) => d.regression)).toEqual([]);
  });
});
