/**
 * Load patterns: how many operations per second a scenario should start at each moment.
 * Every scenario turns its pattern into a fixed schedule of send times up front, so a slow
 * target cannot slow the generator down and hide its own stall (coordinated omission).
 */
export type LoadPattern =
  | { kind: 'constant'; rate: number }
  | { kind: 'ramp'; from: number; to: number }
  | { kind: 'steps'; rates: readonly number[] }
  | { kind: 'spike'; base: number; peak: number; everyMs: number; lengthMs: number }
  | { kind: 'wave'; mean: number; amplitude: number; periodMs: number };

/** The highest rate a pattern accepts, per second: bounds the generator's memory and the target. */
const MAX_RATE = 200_000;

/** Rate (operations per second) the pattern asks for at `tMs` into a phase of `durationMs`. */
export function rateAt(pattern: LoadPattern, tMs: number, durationMs: number): number {
  switch (pattern.kind) {
    case 'constant':
      return pattern.rate;
    case 'ramp':
      return pattern.from + (pattern.to - pattern.from) * Math.min(1, Math.max(0, tMs / durationMs));
    case 'steps': {
      const stepMs = durationMs / pattern.rates.length;
      const index = Math.min(pattern.rates.length - 1, Math.floor(tMs / stepMs));
      return pattern.rates[index] ?? 0;
    }
    case 'spike': {
      const intoCycle = tMs % pattern.everyMs;
      // The burst closes each cycle, so a run starts at the base rate and settles before the first spike.
      return intoCycle >= pattern.everyMs - pattern.lengthMs ? pattern.peak : pattern.base;
    }
    case 'wave':
      return Math.max(0, pattern.mean + pattern.amplitude * Math.sin((2 * Math.PI * tMs) / pattern.periodMs));
  }
}

/** Check a pattern's numbers; returns a readable reason or undefined when it is usable. */
export function patternProblem(pattern: LoadPattern): string | undefined {
  const rates: number[] = [];
  switch (pattern.kind) {
    case 'constant':
      rates.push(pattern.rate);
      break;
    case 'ramp':
      rates.push(pattern.from, pattern.to);
      break;
    case 'steps':
      if (pattern.rates.length === 0) return 'steps needs at least one rate';
      rates.push(...pattern.rates);
      break;
    case 'spike':
      rates.push(pattern.base, pattern.peak);
      if (!(pattern.lengthMs > 0 && pattern.lengthMs < pattern.everyMs)) return 'spike length must be positive and shorter than its period';
      break;
    case 'wave':
      rates.push(pattern.mean + pattern.amplitude);
      if (!(pattern.periodMs > 0)) return 'wave period must be positive';
      if (pattern.amplitude < 0 || pattern.mean < 0) return 'wave mean and amplitude must not be negative';
      break;
  }
  for (const rate of rates) {
    if (!Number.isFinite(rate) || rate < 0) return `rate ${rate} is not a non-negative number`;
    if (rate > MAX_RATE) return `rate ${rate}/s is above the generator's bound of ${MAX_RATE}/s`;
  }
  return undefined;
}

/** Scale every rate of a pattern, e.g. to give each of W workers its 1/W share. */
export function scalePattern(pattern: LoadPattern, factor: number): LoadPattern {
  switch (pattern.kind) {
    case 'constant':
      return { kind: 'constant', rate: pattern.rate * factor };
    case 'ramp':
      return { kind: 'ramp', from: pattern.from * factor, to: pattern.to * factor };
    case 'steps':
      return { kind: 'steps', rates: pattern.rates.map((r) => r * factor) };
    case 'spike':
      return { ...pattern, base: pattern.base * factor, peak: pattern.peak * factor };
    case 'wave':
      return { ...pattern, mean: pattern.mean * factor, amplitude: pattern.amplitude * factor };
  }
}

/** A short label such as `constant 100/s` or `ramp 10→200/s`, for tables and charts. */
export function describePattern(pattern: LoadPattern): string {
  switch (pattern.kind) {
    case 'constant':
      return `constant ${pattern.rate}/s`;
    case 'ramp':
      return `ramp ${pattern.from}→${pattern.to}/s`;
    case 'steps':
      return `steps ${pattern.rates.join(',')}/s`;
    case 'spike':
      return `spike ${pattern.base}/s, ${pattern.peak}/s for ${pattern.lengthMs}ms every ${pattern.everyMs}ms`;
    case 'wave':
      return `wave ${pattern.mean}±${pattern.amplitude}/s over ${pattern.periodMs}ms`;
  }
}

// The integral is taken in slices this long; within a slice the rate is treated as constant.
const SLICE_MS = 1;

/**
 * The scheduled start times (ms from the phase start) of every operation in a phase: the k-th
 * operation is due when the integral of the rate reaches k-1, so the first one goes at t=0 when the
 * rate is positive. A generator, so a long soak does not hold millions of times in memory.
 */
export function* scheduleOffsets(pattern: LoadPattern, durationMs: number): Generator<number, void, undefined> {
  let done = 0; // integral of the rate up to the start of the current slice
  let next = 0; // the integral value at which the next operation is due
  for (let t = 0; t < durationMs; t += SLICE_MS) {
    const slice = Math.min(SLICE_MS, durationMs - t);
    const perMs = rateAt(pattern, t, durationMs) / 1000;
    const end = done + perMs * slice;
    // The epsilon keeps float drift in the running integral from adding an operation at the very end.
    while (next < end - 1e-9) {
      yield t + (next - done) / perMs;
      next += 1;
    }
    done = end;
  }
}
