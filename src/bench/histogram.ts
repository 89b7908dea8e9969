import * as hdr from 'hdr-histogram-js';

/** A latency histogram in microseconds, 3 significant digits, up to an hour. */
export type LatencyHistogram = hdr.Histogram;

/** Percentiles of a histogram, converted to milliseconds for people and JSON. */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

const HOUR_US = 3_600_000_000;

/** A fresh histogram for values in microseconds. */
export function createHistogram(): LatencyHistogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HOUR_US, numberOfSignificantValueDigits: 3, autoResize: true });
}

/** Record one latency; values outside the trackable range are clamped rather than lost. */
export function recordMicros(histogram: LatencyHistogram, micros: number): void {
  histogram.recordValue(Math.min(HOUR_US, Math.max(1, Math.round(micros))));
}

/** Compact text form for sending a histogram from a worker to the parent. */
export function encodeHistogram(histogram: LatencyHistogram): string {
  return hdr.encodeIntoCompressedBase64(histogram);
}

/** Merge encoded histograms (one per worker, or per interval) into `into`. */
export function mergeEncoded(into: LatencyHistogram, encoded: Iterable<string>): LatencyHistogram {
  for (const text of encoded) {
    if (text === '') continue;
    const part = hdr.decodeFromCompressedBase64(text);
    into.add(part);
    part.destroy();
  }
  return into;
}

const round3 = (ms: number): number => Math.round(ms * 1000) / 1000;

/** Percentiles in milliseconds; zeros for an empty histogram. */
export function summarize(histogram: LatencyHistogram): LatencySummary {
  const count = histogram.totalCount;
  if (count === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0, max: 0 };
  const at = (p: number): number => round3(histogram.getValueAtPercentile(p) / 1000);
  return {
    count,
    mean: round3(histogram.mean / 1000),
    p50: at(50),
    p90: at(90),
    p95: at(95),
    p99: at(99),
    p999: at(99.9),
    max: round3(histogram.maxValue / 1000),
  };
}
