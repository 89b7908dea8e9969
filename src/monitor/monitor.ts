import type { Config } from '../config/schema.js';
import { metrics, monitorMetrics } from '../metrics/index.js';
import { CloseCode } from '../protocol/codes.js';
import { ErrorCode, SwitchboardError } from '../protocol/errors.js';
import type { Endpoint, NodeTransport } from '../transport/types.js';
import type { Logger } from '../util/logger.js';
import { AlertBook, type AlertNotice, type SignalName } from './alerts.js';
import { AlertSender } from './alert-sender.js';
import { RingHistory } from './history.js';
import { readCgroupMemoryLimit } from './limits.js';
import { ResourceSampler, type ResourceSample } from './sampler.js';
import { slowestConsumers } from './send-pressure.js';
import { SignalThreshold, type Level, type ThresholdSpec } from './thresholds.js';

/** What the monitor reads from the node. */
export interface MonitorDeps {
  /** The node's id in alerts (its cluster id, or host:port alone). */
  nodeId(): string;
  connections(): ReadonlySet<Endpoint>;
  /** The node's transport: send-buffer pressure, and the closes of shedding. */
  readonly transport: NodeTransport;
  /** The node's connection limit; 0 = none. */
  readonly connectionLimit: number;
  broker(): { state: string; rttMs: number | null } | null;
}

/** Signals whose critical level closes admission (and `/ready`); the others only alert. */
const GATING_SIGNALS: readonly SignalName[] = ['connections', 'eventLoopDelay', 'memory'];

const LEVEL_VALUE: Record<Level, number> = { ok: 0, warn: 1, critical: 2 };
// Grace before a shed socket whose close frame cannot get through (it sits behind unread bytes) is cut.
const SHED_TERMINATE_MS = 2000;

/**
 * The node's resource monitor: samples every `monitorIntervalMs`, keeps the
 * history, moves each signal's level through its thresholds, raises and
 * clears alerts, says whether load closes admission, and sheds the slowest
 * consumers while memory is critical.
 */
export class NodeMonitor {
  private readonly sampler: ResourceSampler;
  private readonly samples: RingHistory<ResourceSample>;
  private readonly thresholds: Map<SignalName, SignalThreshold>;
  private book: AlertBook | null = null;
  private readonly sender: AlertSender | null;
  private readonly listeners: Array<(sample: ResourceSample) => void> = [];
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;

  constructor(
    private readonly config: Config,
    private readonly deps: MonitorDeps,
    private readonly log: Logger,
  ) {
    const memoryLimitBytes = readCgroupMemoryLimit();
    this.sampler = new ResourceSampler({
      connections: () => deps.connections().size,
      connectionLimit: deps.connectionLimit,
      counts: async () => ({ ...(await readCounts()), slowConsumersClosed: deps.transport.stats().slowConsumersClosed }),
      sendBufferBytes: () => deps.transport.stats().bytesQueued,
      broker: () => deps.broker(),
      memoryLimitBytes,
    });
    this.samples = new RingHistory(Math.max(1, Math.ceil((config.monitorHistorySeconds * 1000) / config.monitorIntervalMs)));
    const spec = (warn: number, critical: number, minDurationMs = config.monitorMinDuration * 1000): ThresholdSpec => ({
      warn,
      critical,
      hysteresis: config.monitorHysteresis,
      minDurationMs,
    });
    this.thresholds = new Map<SignalName, SignalThreshold>([
      // A count, not a noisy measurement: its level follows at once.
      ['connections', new SignalThreshold(spec(config.monitorConnectionsWarn, config.monitorConnectionsCritical, 0))],
      ['eventLoopDelay', new SignalThreshold(spec(config.monitorLoopDelayWarnMs, config.monitorLoopDelayCriticalMs))],
      ['memory', new SignalThreshold(spec(config.monitorMemoryWarn, config.monitorMemoryCritical))],
      ['eventLoopUtilization', new SignalThreshold(spec(config.monitorEluWarn, config.monitorEluCritical))],
      ['cpu', new SignalThreshold(spec(config.monitorCpuWarn, config.monitorCpuCritical))],
    ]);
    for (const signal of this.thresholds.keys()) monitorMetrics.level.set({ signal }, 0);
    monitorMetrics.connectionLimit.set(deps.connectionLimit);
    monitorMetrics.memoryLimit.set(memoryLimitBytes ?? 0);
    this.sender =
      config.alertUrls.length > 0 && config.alertSecret !== undefined
        ? new AlertSender(
            { urls: config.alertUrls, secret: config.alertSecret, retryForMs: config.alertRetryFor * 1000, attemptTimeoutMs: config.alertTimeout * 1000 },
            log,
          )
        : null;
  }

  start(): void {
    // The node id is known once the node has joined its cluster, which is before start().
    this.book ??= new AlertBook(this.deps.nodeId());
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.tick(), this.config.monitorIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.sampler.stop();
    await this.sender?.stop();
  }

  /** Call `listener` after every sample (scaling advice, the dashboard). */
  onSample(listener: (sample: ResourceSample) => void): void {
    this.listeners.push(listener);
  }

  /** Take one sample now and act on it. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const sample = await this.sampler.sample();
      this.samples.push(sample);
      exportSample(sample);
      this.evaluate(sample);
      if (this.level('memory') === 'critical') this.shed();
      for (const listener of this.listeners) listener(sample);
    } catch (err) {
      this.log.error({ err }, 'fault while sampling resources');
    } finally {
      this.ticking = false;
    }
  }

  latest(): ResourceSample | undefined {
    return this.samples.latest();
  }

  /** Oldest first, up to `monitorHistorySeconds`. */
  history(): ResourceSample[] {
    return this.samples.toArray();
  }

  level(signal: SignalName): Level {
    return this.thresholds.get(signal)!.level;
  }

  levels(): Record<SignalName, Level> {
    return Object.fromEntries([...this.thresholds].map(([name, t]) => [name, t.level])) as Record<SignalName, Level>;
  }

  /** Why new WebSockets are refused now (a gating signal is critical), or null while the node accepts. */
  refusal(): { signal: SignalName; reason: string } | null {
    for (const signal of GATING_SIGNALS) {
      if (this.thresholds.get(signal)!.level !== 'critical') continue;
      const open = this.book?.active().find((a) => a.signal === signal);
      const reason = open === undefined ? `${signal} critical` : `${signal} critical (${open.value} >= ${open.threshold})`;
      return { signal, reason };
    }
    return null;
  }

  alerts(): { node: string; active: AlertNotice[]; recent: AlertNotice[]; levels: Record<SignalName, Level> } {
    return { node: this.deps.nodeId(), active: this.book?.active() ?? [], recent: this.book?.history() ?? [], levels: this.levels() };
  }

  /** Resolves when queued alert POSTs are delivered or given up (tests). */
  alertsSettled(): Promise<void> {
    return this.sender?.settled() ?? Promise.resolve();
  }

  private evaluate(sample: ResourceSample): void {
    const now = performance.now();
    const values: Record<SignalName, number> = {
      connections: sample.connectionRatio,
      eventLoopDelay: sample.loopDelayP99Ms,
      memory: sample.memoryRatio,
      eventLoopUtilization: sample.elu,
      cpu: sample.cpuCores,
    };
    for (const [signal, threshold] of this.thresholds) {
      const change = threshold.update(values[signal], now);
      if (change === null) continue;
      monitorMetrics.level.set({ signal }, LEVEL_VALUE[change.to]);
      monitorMetrics.alerts.inc({ signal, level: change.to });
      this.book ??= new AlertBook(this.deps.nodeId());
      const notice = this.book.record(signal, change);
      const line = { signal, level: change.to, previous: change.from, value: change.value, threshold: change.threshold, alertId: notice.alertId };
      if (change.to === 'ok') this.log.info(line, 'alert cleared');
      else if (change.to === 'critical')
        this.log.error(line, GATING_SIGNALS.includes(signal) ? 'alert: critical, refusing new connections' : 'alert: critical');
      else
        this.log.warn(
          line,
          change.from === 'critical' ? `alert: back to warn${GATING_SIGNALS.includes(signal) ? ', accepting connections again' : ''}` : 'alert: warn',
        );
      this.sender?.send(notice);
    }
  }

  private shed(): void {
    const count = this.config.monitorShedPerInterval;
    if (count === 0) return;
    const transport = this.deps.transport;
    const victims = slowestConsumers(this.deps.connections(), transport, count);
    if (victims.length === 0) return;
    const error = new SwitchboardError(ErrorCode.SlowConsumer);
    for (const endpoint of victims) {
      transport.close(endpoint, error.closeCode ?? CloseCode.Reconnect, error.message);
      setTimeout(() => transport.terminate(endpoint), SHED_TERMINATE_MS).unref();
    }
    monitorMetrics.shed.inc(victims.length);
    this.log.warn({ shed: victims.length }, 'memory critical: closed the slowest consumers (4200)');
  }
}

async function readCounts(): Promise<{ messagesIn: number; messagesOut: number }> {
  const [inbound, outbound] = await Promise.all([metrics.messagesIn.get(), metrics.messagesOut.get()]);
  return { messagesIn: inbound.values[0]?.value ?? 0, messagesOut: outbound.values[0]?.value ?? 0 };
}

function exportSample(s: ResourceSample): void {
  monitorMetrics.cpu.set(s.cpuCores);
  monitorMetrics.hostCpu.set(s.hostCpu);
  monitorMetrics.memoryRatio.set(s.memoryRatio);
  monitorMetrics.elu.set(s.elu);
  monitorMetrics.loopDelayP99.set(s.loopDelayP99Ms / 1000);
  monitorMetrics.messageRate.set({ direction: 'in' }, s.messagesInPerSecond);
  monitorMetrics.messageRate.set({ direction: 'out' }, s.messagesOutPerSecond);
  monitorMetrics.sendBuffer.set(s.sendBufferBytes);
  if (s.broker?.rttMs != null) monitorMetrics.brokerRtt.set(s.broker.rttMs / 1000);
  monitorMetrics.deletionCost.set(s.connections);
}
