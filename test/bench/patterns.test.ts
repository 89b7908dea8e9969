import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/bench/duration.js';
import { patternProblem, rateAt, scalePattern, scheduleOffsets, type LoadPattern } from '../../src/bench/patterns.js';

const offsets = (pattern: LoadPattern, durationMs: number): number[] => [...scheduleOffsets(pattern, durationMs)];
/** Operations scheduled in [fromMs, toMs). */
const countIn = (times: number[], fromMs: number, toMs: number): number => times.filter((t) => t >= fromMs && t < toMs).length;

describe('load patterns', () => {
  it('constant: evenly spaced at 1/rate, starting at 0', () => {
    const times = offsets({ kind: 'constant', rate: 100 }, 1000);
    expect(times).toHaveLength(100);
    expect(times[0]).toBe(0);
    for (let i = 1; i < times.length; i++) expect((times[i] ?? 0) - (times[i - 1] ?? 0)).toBeCloseTo(10, 6);
  });

  it('constant: a fractional rate still sends on schedule', () => {
    const times = offsets({ kind: 'constant', rate: 0.5 }, 10_000);
    expect(times).toHaveLength(5);
    times.forEach((t, i) => expect(t).toBeCloseTo(i * 2000, 6));
    expect(offsets({ kind: 'constant', rate: 0 }, 5000)).toEqual([]);
  });

  it('ramp: the rate climbs linearly, so the second half carries three times the first', () => {
    const times = offsets({ kind: 'ramp', from: 0, to: 200 }, 2000);
    expect(times.length).toBeGreaterThanOrEqual(199);
    expect(times.length).toBeLessThanOrEqual(201);
    const first = countIn(times, 0, 1000);
    const second = countIn(times, 1000, 2000);
    expect(second / first).toBeCloseTo(3, 0);
  });

  it('steps: each rate holds for an equal share of the duration', () => {
    const times = offsets({ kind: 'steps', rates: [10, 50, 100] }, 3000);
    expect(countIn(times, 0, 1000)).toBe(10);
    expect(countIn(times, 1000, 2000)).toBe(50);
    expect(countIn(times, 2000, 3000)).toBe(100);
  });

  it('spike: the base rate, then a burst at the end of every period', () => {
    const pattern: LoadPattern = { kind: 'spike', base: 10, peak: 1000, everyMs: 2000, lengthMs: 500 };
    const times = offsets(pattern, 4000);
    expect(countIn(times, 0, 1500)).toBe(15);
    expect(countIn(times, 1500, 2000)).toBe(500);
    expect(countIn(times, 2000, 3500)).toBe(15);
    expect(countIn(times, 3500, 4000)).toBe(500);
  });

  it('wave: a sine around the mean; peaks and troughs a quarter period apart', () => {
    const pattern: LoadPattern = { kind: 'wave', mean: 100, amplitude: 50, periodMs: 4000 };
    expect(rateAt(pattern, 1000, 8000)).toBeCloseTo(150);
    expect(rateAt(pattern, 3000, 8000)).toBeCloseTo(50);
    const times = offsets(pattern, 4000);
    expect(times.length).toBeGreaterThanOrEqual(399);
    expect(times.length).toBeLessThanOrEqual(401);
    // ∫ over the rising half: 200 + 50·(4000/π)/1000 ≈ 264; the falling half ≈ 136.
    expect(Math.abs(countIn(times, 0, 2000) - 264)).toBeLessThanOrEqual(1);
    expect(Math.abs(countIn(times, 2000, 4000) - 136)).toBeLessThanOrEqual(1);
  });

  it('scales rates for a worker’s share and rejects impossible patterns', () => {
    expect(scalePattern({ kind: 'ramp', from: 10, to: 100 }, 0.5)).toEqual({ kind: 'ramp', from: 5, to: 50 });
    expect(patternProblem({ kind: 'constant', rate: -1 })).toMatch(/non-negative/);
    expect(patternProblem({ kind: 'steps', rates: [] })).toMatch(/at least one/);
    expect(patternProblem({ kind: 'spike', base: 1, peak: 2, everyMs: 100, lengthMs: 100 })).toMatch(/shorter/);
    expect(patternProblem({ kind: 'constant', rate: 10_000_000 })).toMatch(/bound/);
    expect(patternProblem({ kind: 'wave', mean: 5, amplitude: 2, periodMs: 1000 })).toBeUndefined();
  });

  it('parses durations', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1.5')).toBe(1500);
    expect(() => parseDuration('soon')).toThrow(/not a duration/);
  });
});
