import { readFile } from 'node:fs/promises';

/** One reading of the server under test. Fields are absent when their source is not available. */
export interface ServerSample {
  tMs: number;
  /** CPU over the last interval, % of one core. */
  cpuPct?: number;
  rssMiB?: number;
  /** Connections as the server counts them (its `/metrics`). */
  connections?: number;
}

// Linux reports utime/stime in clock ticks; 100 per second on every mainstream kernel config.
const CLOCK_TICKS_PER_SECOND = 100;

/** utime+stime (seconds) and VmRSS (MiB) of a process from /proc; undefined when it is gone. */
async function readProcess(pid: number): Promise<{ cpuSeconds: number; rssMiB: number } | undefined> {
  try {
    const [stat, status] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/status`, 'utf8')]);
    // The command name may hold spaces and parentheses: the fields start after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    return { cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND, rssMiB: rssKiB / 1024 };
  } catch {
    return undefined;
  }
}

/** The few figures the bench reads from a Prometheus text exposition; sums over labels. */
function parsePrometheus(text: string): { cpuSeconds?: number; rssBytes?: number; connections?: number } {
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    const [, name = '', value = ''] = match;
    const number = Number(value);
    if (Number.isFinite(number)) sums.set(name, (sums.get(name) ?? 0) + number);
  }
  const find = (suffix: string): number | undefined => {
    for (const [name, value] of sums) if (name === suffix || name.endsWith(`_${suffix}`)) return value;
    return undefined;
  };
  const result: { cpuSeconds?: number; rssBytes?: number; connections?: number } = {};
  const cpu = find('process_cpu_seconds_total');
  const rss = find('process_resident_memory_bytes');
  const connections = sums.get('switchboard_connections');
  if (cpu !== undefined) result.cpuSeconds = cpu;
  if (rss !== undefined) result.rssBytes = rss;
  if (connections !== undefined) result.connections = connections;
  return result;
}

async function fetchMetrics(url: string): Promise<string | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    if (!response.ok) return undefined;
    return await response.text();
  } catch {
    return undefined;
  }
}

/**
 * Samples the target once a second: its process by pid (CPU and RSS from /proc) and its
 * Prometheus `/metrics`. The pid wins for CPU and RSS; metrics add the server's own counts.
 */
export class ServerSampler {
  readonly samples: ServerSample[] = [];
  metricsAvailable = false;
  private timer: NodeJS.Timeout | undefined;
  private last: { at: number; cpuSeconds: number } | undefined;
  private readonly startedAt = Date.now();

  constructor(private readonly source: { pid?: number; metricsUrl?: string }) {}

  start(intervalMs = 1000): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.sample();
  }

  /** The latest reading (for the live progress line). */
  latest(): ServerSample | undefined {
    return this.samples[this.samples.length - 1];
  }

  /** Take a reading now (also recorded in `samples`). */
  async sample(): Promise<ServerSample> {
    const now = Date.now();
    const sample: ServerSample = { tMs: now - this.startedAt };
    let cpuSeconds: number | undefined;
    if (this.source.metricsUrl !== undefined) {
      const text = await fetchMetrics(this.source.metricsUrl);
      if (text !== undefined) {
        this.metricsAvailable = true;
        const figures = parsePrometheus(text);
        cpuSeconds = figures.cpuSeconds;
        if (figures.rssBytes !== undefined) sample.rssMiB = figures.rssBytes / 1024 / 1024;
        if (figures.connections !== undefined) sample.connections = figures.connections;
      }
    }
    if (this.source.pid !== undefined) {
      const process = await readProcess(this.source.pid);
      if (process !== undefined) {
        cpuSeconds = process.cpuSeconds;
        sample.rssMiB = process.rssMiB;
      }
    }
    if (cpuSeconds !== undefined) {
      if (this.last !== undefined && now > this.last.at) sample.cpuPct = ((cpuSeconds - this.last.cpuSeconds) / ((now - this.last.at) / 1000)) * 100;
      this.last = { at: now, cpuSeconds };
    }
    if (sample.rssMiB !== undefined) sample.rssMiB = Math.round(sample.rssMiB * 100) / 100;
    if (sample.cpuPct !== undefined) sample.cpuPct = Math.round(sample.cpuPct * 10) / 10;
    this.samples.push(sample);
    return sample;
  }
}

/** Least-squares slope of RSS over time, in MiB per hour: the soak's leak signal. */
export function rssGrowthMiBPerHour(samples: readonly ServerSample[]): number | undefined {
  const points = samples.filter((s): s is ServerSample & { rssMiB: number } => s.rssMiB !== undefined);
  if (points.length < 3) return undefined;
  const n = points.length;
  const meanT = points.reduce((a, p) => a + p.tMs, 0) / n;
  const meanR = points.reduce((a, p) => a + p.rssMiB, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.tMs - meanT) * (p.rssMiB - meanR);
    den += (p.tMs - meanT) ** 2;
  }
  return den === 0 ? 0 : Math.round((num / den) * 3_600_000 * 100) / 100;
}
