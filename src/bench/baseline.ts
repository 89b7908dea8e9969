import type { BenchResults } from './results.js';

/** One figure compared with its baseline. */
export interface FigureDiff {
  figure: string;
  baseline: number;
  current: number;
  /** Change in % of the baseline (positive = larger). */
  changePct: number;
  better: 'higher' | 'lower';
  regression: boolean;
}

interface Figure {
  name: string;
  better: 'higher' | 'lower';
  read(r: BenchResults): number | undefined;
}

// The primary latency is delivery latency when there were deliveries, else operation latency.
const primary = (r: BenchResults): BenchResults['totals']['latencyMs'] => (r.totals.latencyMs.count > 0 ? r.totals.latencyMs : r.totals.operationLatencyMs);
const FIGURES: Figure[] = [
  { name: 'deliveries/s', better: 'higher', read: (r) => (r.totals.delivered > 0 ? r.totals.deliveriesPerSec : undefined) },
  { name: 'latency p50 ms', better: 'lower', read: (r) => (primary(r).count > 0 ? primary(r).p50 : undefined) },
  { name: 'latency p99 ms', better: 'lower', read: (r) => (primary(r).count > 0 ? primary(r).p99 : undefined) },
  { name: 'latency max ms', better: 'lower', read: (r) => (primary(r).count > 0 ? primary(r).max : undefined) },
  { name: 'loss %', better: 'lower', read: (r) => (r.totals.expected > 0 ? r.totals.lossPct : undefined) },
  { name: 'connect p99 ms', better: 'lower', read: (r) => (r.connections.open > 0 ? r.connections.connectMs.p99 : undefined) },
  { name: 'connections/s', better: 'higher', read: (r) => (r.connections.open > 0 ? r.connections.connectsPerSec : undefined) },
  { name: 'connect failures', better: 'lower', read: (r) => r.connections.failed },
  { name: 'server KiB/connection', better: 'lower', read: (r) => r.server.memoryPerConnectionKiB },
  { name: 'server CPU avg %', better: 'lower', read: (r) => r.server.cpuAvgPct },
  { name: 'find-max rate/s', better: 'higher', read: (r) => r.findMax?.lastGoodRate ?? undefined },
];

/**
 * Compare a run with a baseline run: a figure regresses when it moved the wrong way by more than
 * `tolerancePct` of the baseline. A figure that was zero regresses on any worsening (loss 0 → 0.1%).
 */
export function diffAgainstBaseline(current: BenchResults, baseline: BenchResults, tolerancePct: number): FigureDiff[] {
  const diffs: FigureDiff[] = [];
  for (const figure of FIGURES) {
    const now = figure.read(current);
    const then = figure.read(baseline);
    if (now === undefined || then === undefined) continue;
    const change = then === 0 ? (now === 0 ? 0 : Number.POSITIVE_INFINITY * Math.sign(now)) : ((now - then) / Math.abs(then)) * 100;
    const worse = figure.better === 'higher' ? -change : change;
    diffs.push({
      figure: figure.name,
      baseline: then,
      current: now,
      changePct: Number.isFinite(change) ? Math.round(change * 10) / 10 : change,
      better: figure.better,
      regression: worse > tolerancePct,
    });
  }
  return diffs;
}
