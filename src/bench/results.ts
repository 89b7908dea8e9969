import os from 'node:os';
import type { LatencySummary } from './histogram.js';
import type { CodeCounts } from './messages.js';
import type { ServerSample } from './server-sampler.js';
import type { ThresholdResult } from './thresholds.js';

/** Bumped when a field changes meaning; documented in docs/bench.md. */
export const RESULTS_SCHEMA = 'switchboard-bench/1';

export interface MachineInfo {
  hostname: string;
  platform: string;
  release: string;
  arch: string;
  cpuModel: string;
  cpus: number;
  memoryGiB: number;
  node: string;
}

/** One measured phase: a whole run, or one step of `--find-max`. */
export interface PhaseResult {
  phase: number;
  pattern: string;
  /** The pattern's peak rate, per second (the step's rate under --find-max). */
  rate: number;
  durationMs: number;
  drainMs: number;
  /** Server publishes that succeeded, failed, and client events sent. */
  published: number;
  publishErrors: number;
  clientEvents: number;
  /** Churn/presence operations started, and those that failed. */
  operations: number;
  operationErrors: CodeCounts;
  expected: number;
  delivered: number;
  loss: number;
  lossPct: number;
  duplicates: number;
  outOfOrder: number;
  deliveriesPerSec: number;
  /** Delivery latency from the scheduled send time. */
  latencyMs: LatencySummary;
  /** Churn/presence operation latency (connect → subscribed) from its scheduled time. */
  operationLatencyMs: LatencySummary;
  /** Worst lateness of the publisher against its own schedule (timer granularity, a busy generator). */
  publisherLagMaxMs: number;
  generatorCpuPct: number;
  generatorSaturated: boolean;
  thresholds: ThresholdResult[];
  passed: boolean;
}

/** One point of the time series, once a second. */
export interface TimelinePoint {
  tMs: number;
  phase: number;
  deliveriesPerSec: number;
  publishesPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  connections: number;
  /** CPU of the busiest generator process, % of one core. */
  generatorCpuPct: number;
  serverCpuPct?: number;
  serverRssMiB?: number;
}

export interface BenchResults {
  schema: typeof RESULTS_SCHEMA;
  label?: string;
  scenario: string;
  driver: string;
  target: { url: string; httpUrl: string; appId: string };
  /** The exact command line, as argv. */
  command: string[];
  machine: MachineInfo;
  startedAt: string;
  finishedAt: string;
  /** The resolved options of the run (secrets removed). */
  options: Record<string, unknown>;
  connections: {
    attempted: number;
    open: number;
    failed: number;
    errorsByCode: CodeCounts;
    /** Connect + subscribe time from each client's scheduled start. */
    connectMs: LatencySummary;
    connectWallMs: number;
    connectsPerSec: number;
    /** Closes after connecting, by close code or reason. */
    closesByCode: CodeCounts;
  };
  phases: PhaseResult[];
  /** All phases together; what thresholds are checked against (except under --find-max). */
  totals: PhaseResult;
  findMax?: { lastGoodRate: number | null; firstBadRate: number | null };
  generator: { workers: number; maxProcessCpuPct: number; saturated: boolean; note?: string };
  server: {
    pid?: number;
    metricsUrl?: string;
    rssStartMiB?: number;
    rssEndMiB?: number;
    rssPeakMiB?: number;
    /** (RSS with all clients connected − RSS before) / clients. */
    memoryPerConnectionKiB?: number;
    cpuAvgPct?: number;
    rssGrowthMiBPerHour?: number;
    samples: ServerSample[];
  };
  timeline: TimelinePoint[];
  thresholds: ThresholdResult[];
  passed: boolean;
}

/** The machine the generator ran on. */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    platform: os.platform(),
    release: os.release(),
    arch: os.arch(),
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpus: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
  };
}

/** Check that parsed JSON is a results file of this schema; throws a readable Error if not. */
export function asResults(value: unknown, source: string): BenchResults {
  if (typeof value !== 'object' || value === null || (value as { schema?: unknown }).schema !== RESULTS_SCHEMA) {
    throw new Error(`${source} is not a switchboard bench results file (schema ${RESULTS_SCHEMA})`);
  }
  return value as BenchResults;
}
