import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { EluMeter, LoopDelayMeter } from './loop.js';

/** One interval's view of the node's resources. Rates and loop figures cover the interval only. */
export interface ResourceSample {
  /** Date.now() at the end of the interval. */
  at: number;
  /** Process CPU over the interval, in cores (1 = one core busy). */
  cpuCores: number;
  /** Host CPU busy over the interval, as a fraction of all its cores. */
  hostCpu: number;
  rssBytes: number;
  heapUsedBytes: number;
  heapLimitBytes: number;
  /** The cgroup memory limit, null when there is none. */
  memoryLimitBytes: number | null;
  /** The higher of RSS / cgroup limit and heap used / heap limit. */
  memoryRatio: number;
  /** Event-loop utilization of this interval (not since start). */
  elu: number;
  /** p99 event-loop delay of this interval, ms. */
  loopDelayP99Ms: number;
  connections: number;
  /** 0 = no limit. */
  connectionLimit: number;
  /** connections / limit; 0 without a limit. */
  connectionRatio: number;
  messagesInPerSecond: number;
  messagesOutPerSecond: number;
  /** Bytes queued in the sockets, unsent. */
  sendBufferBytes: number;
  /** Slow consumers closed during the interval (send buffer over `maxSendBufferBytes`). */
  slowConsumersClosed: number;
  /** The broker link, null when the node runs alone. */
  broker: { state: string; rttMs: number | null } | null;
}

/** Readings the sampler takes from the rest of the node. */
export interface SampleSources {
  connections(): number;
  readonly connectionLimit: number;
  /** Cumulative counts (read from the metric registry, hence async); the sampler turns them into deltas. */
  counts(): Promise<{ messagesIn: number; messagesOut: number; slowConsumersClosed: number }>;
  sendBufferBytes(): number;
  broker(): { state: string; rttMs: number | null } | null;
  readonly memoryLimitBytes: number | null;
}

/**
 * Takes one ResourceSample per call from cumulative readings: each figure is
 * the delta since the previous call, so a node that just became busy shows
 * it at once (a cumulative ELU would average it away).
 */
export class ResourceSampler {
  private readonly elu = new EluMeter();
  private lastCpu = process.cpuUsage();
  private lastHost = hostTimes();
  private lastAt = performance.now();
  private lastCounts: { messagesIn: number; messagesOut: number; slowConsumersClosed: number } | null = null;
  private readonly delay = new LoopDelayMeter();
  private readonly heapLimit = getHeapStatistics().heap_size_limit;

  constructor(private readonly sources: SampleSources) {}

  async sample(): Promise<ResourceSample> {
    const s = this.sources;
    const counts = await s.counts();
    const last = this.lastCounts ?? counts;
    this.lastCounts = counts;
    const now = performance.now();
    const seconds = Math.max(0.001, (now - this.lastAt) / 1000);
    this.lastAt = now;

    const utilization = this.elu.read();

    const cpu = process.cpuUsage();
    const cpuMicros = cpu.user - this.lastCpu.user + (cpu.system - this.lastCpu.system);
    this.lastCpu = cpu;

    const host = hostTimes();
    const hostTotal = host.total - this.lastHost.total;
    const hostCpu = hostTotal > 0 ? 1 - (host.idle - this.lastHost.idle) / hostTotal : 0;
    this.lastHost = host;

    const p99 = this.delay.readP99Ms();

    const memory = process.memoryUsage();
    const limit = s.memoryLimitBytes;
    const memoryRatio = Math.max(limit === null ? 0 : memory.rss / limit, memory.heapUsed / this.heapLimit);

    const connections = s.connections();
    const sample: ResourceSample = {
      at: Date.now(),
      cpuCores: round(cpuMicros / 1e6 / seconds),
      hostCpu: round(Math.min(1, Math.max(0, hostCpu))),
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      heapLimitBytes: this.heapLimit,
      memoryLimitBytes: limit,
      memoryRatio: round(memoryRatio),
      elu: round(utilization),
      loopDelayP99Ms: round(p99),
      connections,
      connectionLimit: s.connectionLimit,
      connectionRatio: s.connectionLimit > 0 ? round(connections / s.connectionLimit) : 0,
      messagesInPerSecond: round((counts.messagesIn - last.messagesIn) / seconds),
      messagesOutPerSecond: round((counts.messagesOut - last.messagesOut) / seconds),
      sendBufferBytes: s.sendBufferBytes(),
      slowConsumersClosed: counts.slowConsumersClosed - last.slowConsumersClosed,
      broker: s.broker(),
    };
    return sample;
  }

  stop(): void {
    this.delay.stop();
  }
}

function hostTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const cpu of cpus()) {
    const t = cpu.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
