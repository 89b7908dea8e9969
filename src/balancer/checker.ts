import type { Logger } from '../util/logger.js';
import type { Backend, ReportedLoad } from './backend.js';
import type { BackendSet } from './backend-set.js';
import { readCappedText } from './http-pool.js';

export interface CheckSettings {
  intervalMs: number;
  fastIntervalMs: number;
  timeoutMs: number;
}

type CheckResult = { result: 'ok' | 'draining' | 'failed'; reason: string; load: ReportedLoad | null; ms: number };

/** One `GET /ready`: 200 is ok, 503 saying it drains is draining, anything else (or no answer in time) failed. */
async function checkReady(backend: Backend, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now();
  const outcome = (result: CheckResult['result'], reason: string, load: ReportedLoad | null = null): CheckResult => ({
    result,
    reason,
    load,
    ms: performance.now() - started,
  });
  try {
    const res = await backend.http.control.request({ path: '/ready', method: 'GET', signal: AbortSignal.timeout(timeoutMs) });
    const body = parseBody(await readCappedText(res.body));
    const load = readLoad(body?.load);
    const draining = body?.draining === true || load?.state === 'draining';
    if (res.statusCode === 200 && !draining) return outcome('ok', 'ready 200', load);
    if (res.statusCode === 503 && draining) return outcome('draining', 'ready 503 draining', load);
    return outcome('failed', `ready ${res.statusCode}`, load);
  } catch (err) {
    return outcome('failed', failureReason(err));
  }
}

/** What a failed request to a backend logs: its timeout, or its error code. */
function failureReason(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string };
  if (e.name === 'TimeoutError') return 'timeout';
  return e.code ?? e.message ?? String(err);
}

function parseBody(text: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Checked field by field: a node's body is input from the network. */
function readLoad(v: unknown): ReportedLoad | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  const connections = num(o.connections);
  const elu = num(o.elu);
  if (connections === null || elu === null) return null;
  return {
    connections,
    elu: Math.min(1, Math.max(0, elu)),
    rssBytes: num(o.rssBytes) ?? 0,
    heapUsedBytes: num(o.heapUsedBytes) ?? 0,
    state: o.state === 'draining' ? 'draining' : 'ready',
  };
}

/**
 * Active checks for every backend, each on its own jittered timer: every
 * `intervalMs`, or `fastIntervalMs` while its state is changing.
 */
export class HealthChecker {
  private readonly timers = new Map<Backend, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly set: BackendSet,
    private readonly settings: CheckSettings,
    private readonly logger: Logger,
  ) {}

  /** Start checking a backend at once (idempotent). */
  watch(backend: Backend): void {
    if (this.stopped || this.timers.has(backend)) return;
    this.schedule(backend, 0);
  }

  unwatch(backend: Backend): void {
    const t = this.timers.get(backend);
    if (t !== undefined) clearTimeout(t);
    this.timers.delete(backend);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private schedule(backend: Backend, delayMs: number): void {
    const timer = setTimeout(() => void this.run(backend), delayMs);
    timer.unref();
    this.timers.set(backend, timer);
  }

  private async run(backend: Backend): Promise<void> {
    void this.resolve(backend);
    const outcome = await checkReady(backend, this.settings.timeoutMs);
    if (this.stopped || !this.timers.has(backend)) return;
    if (this.set.get(backend.address) !== backend) {
      this.timers.delete(backend);
      return;
    }
    const before = backend.health.state;
    if (outcome.load !== null) backend.load = outcome.load;
    if (outcome.result !== 'failed') backend.observeLatency(outcome.ms);
    backend.health.checked(outcome.result, performance.now(), outcome.reason);
    if (backend.health.state !== before)
      this.logger.info({ backend: backend.address, from: before, to: backend.health.state, reason: outcome.reason }, 'backend health changed');
    const base = backend.health.changing || backend.health.state === 'unknown' ? this.settings.fastIntervalMs : this.settings.intervalMs;
    // ±10% jitter so that checks of many backends (and of many balancers) do not line up.
    this.schedule(backend, base * (0.9 + Math.random() * 0.2));
  }

  /** Refresh a named backend's address beside its check (not before it: a hung resolver must not hold checks); an IP needs none. */
  private async resolve(backend: Backend): Promise<void> {
    const found = await backend.resolver.refresh();
    if (found.kind === 'changed') this.logger.info({ backend: backend.address, from: found.from, to: found.to }, 'backend address resolved');
    else if (found.kind === 'failed' && !found.repeated)
      this.logger.warn(
        { backend: backend.address, err: found.error.message, keeps: backend.resolver.address },
        'backend name did not resolve; keeping the last address',
      );
  }
}
