import { nowMicros } from './clock.js';
import { createDriver } from './drivers/index.js';
import { errorCode, type BenchClient, type ClientHandlers, type Driver } from './drivers/types.js';
import { createHistogram, encodeHistogram, recordMicros, type LatencyHistogram } from './histogram.js';
import { encodeMarker, readMarker, type Marker } from './marker.js';
import type { Activity, AgentCommand, AgentEvent, AgentSetup, CodeCounts } from './messages.js';
import { runSchedule, type ScheduleRun } from './scheduler.js';
import { ReceiverTracker } from './sequence-tracker.js';

/** Per-phase accounting of one agent; deliveries count toward the phase stamped in their marker. */
class PhaseStats {
  unique = 0;
  duplicates = 0;
  outOfOrder = 0;
  published = 0;
  ops = 0;
  memberEvents = 0;
  scheduleLagMaxMs = 0;
  readonly opErrors: CodeCounts = {};
  readonly publishedByChannel: Record<string, number> = {};
  readonly latency: LatencyHistogram = createHistogram();
  readonly opLatency: LatencyHistogram = createHistogram();
}

/** One receiving client: its channel and its per-publisher sequence accounting. */
class Receiver implements ClientHandlers {
  readonly tracker = new ReceiverTracker();
  client: BenchClient | undefined;
  seq = 0;

  constructor(
    private readonly agent: Agent,
    readonly channel: string,
    readonly globalIndex: number,
  ) {}

  onFrame(frame: Buffer | string): boolean {
    return this.agent.deliver(this, frame);
  }

  onEvent(event: string): void {
    if (event === 'pusher_internal:member_added' || event === 'pusher_internal:member_removed') this.agent.memberEvent();
  }

  onClose(code: string): void {
    this.client = undefined;
    this.agent.closed(code);
  }
}

/** A churn client only counts unexpected closes; it is closed on purpose after its hold time. */
const churnHandlers = (agent: Agent): ClientHandlers => ({ onFrame: () => false, onClose: (code) => agent.closed(code) });

function bump(counts: CodeCounts, code: string): void {
  counts[code] = (counts[code] ?? 0) + 1;
}

/**
 * The load-generating side of a run: connects its share of the clients, records every delivery
 * into HDR histograms, runs worker-side activities (client events, churn) on a fixed schedule and
 * reports to the orchestrator. Runs inside a worker process, or in the orchestrator's own process.
 */
export class Agent {
  private setup: AgentSetup | undefined;
  private driver: Driver | undefined;
  private readonly receivers: Receiver[] = [];
  private readonly phases = new Map<number, PhaseStats>();
  private currentPhase = 0;
  private interval: LatencyHistogram = createHistogram();
  private intervalDeliveries = 0;
  private closes: CodeCounts = {};
  private open = 0;
  private ticker: NodeJS.Timeout | undefined;
  private lastTick = { at: nowMicros(), cpu: process.cpuUsage() };
  private activity: ScheduleRun | undefined;
  private readonly churnClients = new Set<BenchClient>();
  private readonly marker: Marker = { scheduledMicros: 0, phase: 0, publisher: 0, connection: 0, seq: 0 };
  private stopped = false;

  constructor(private readonly emit: (event: AgentEvent) => void) {}

  /** Handle one command from the orchestrator. */
  handle(command: AgentCommand): void {
    const run = async (): Promise<void> => {
      switch (command.type) {
        case 'setup':
          return this.start(command.setup);
        case 'phase':
          return this.beginPhase(command.phase, command.startMicros, command.durationMs, command.activity);
        case 'report':
          return this.report(command.phase);
        case 'stop':
          return this.stop();
      }
    };
    run().catch((err: unknown) =>
      this.emit({ type: 'fatal', agentIndex: this.setup?.agentIndex ?? -1, message: err instanceof Error ? err.message : String(err) }),
    );
  }

  private stats(phase: number): PhaseStats {
    let stats = this.phases.get(phase);
    if (stats === undefined) {
      stats = new PhaseStats();
      this.phases.set(phase, stats);
    }
    return stats;
  }

  /** Account one frame; false when it carried no marker. */
  deliver(receiver: Receiver, frame: Buffer | string): boolean {
    const m = this.marker;
    if (!readMarker(frame, m)) return false;
    const latency = nowMicros() - m.scheduledMicros;
    const stats = this.stats(m.phase);
    if (receiver.tracker.record(m.publisher, m.connection, m.seq)) {
      stats.unique++;
      recordMicros(stats.latency, latency);
      recordMicros(this.interval, latency);
      this.intervalDeliveries++;
    } else {
      stats.duplicates++;
    }
    return true;
  }

  memberEvent(): void {
    this.stats(this.currentPhase).memberEvents++;
  }

  closed(code: string): void {
    this.open--;
    bump(this.closes, code);
  }

  private async start(setup: AgentSetup): Promise<void> {
    this.setup = setup;
    this.driver = createDriver(setup.driver, setup.target);
    this.ticker = setInterval(() => this.tick(), setup.tickMs);
    for (const group of setup.groups) {
      for (let i = 0; i < group.count; i++) this.receivers.push(new Receiver(this, group.channel, group.firstIndex + i));
    }
    const connectHistogram = createHistogram();
    const errorsByCode: CodeCounts = {};
    const subscribedByChannel: Record<string, number> = {};
    let failed = 0;
    let firstError: string | undefined;
    let inFlight = 0;
    const waiting: Array<() => void> = [];
    const began = Date.now();
    const attempts: Promise<void>[] = [];
    const connectOne = async (receiver: Receiver, scheduledMicros: number): Promise<void> => {
      // The handshake concurrency bound delays an attempt, and that delay counts in its connect time.
      if (inFlight >= setup.connectConcurrency) await new Promise<void>((resolve) => waiting.push(resolve));
      inFlight++;
      try {
        const address = setup.sourceAddresses[receiver.globalIndex % Math.max(1, setup.sourceAddresses.length)];
        const client = await this.requireDriver().connect(receiver, { timeoutMs: setup.timeoutMs, ...(address ? { localAddress: address } : {}) });
        receiver.client = client;
        this.open++;
        await client.subscribe(receiver.channel, { timeoutMs: setup.timeoutMs, userId: `${setup.userPrefix}${receiver.globalIndex}` });
        subscribedByChannel[receiver.channel] = (subscribedByChannel[receiver.channel] ?? 0) + 1;
        recordMicros(connectHistogram, nowMicros() - scheduledMicros);
      } catch (err) {
        failed++;
        bump(errorsByCode, errorCode(err));
        firstError ??= err instanceof Error ? err.message : String(err);
      } finally {
        inFlight--;
        waiting.shift()?.();
      }
    };
    const schedule = runSchedule(
      setup.connectPattern,
      24 * 3_600_000,
      nowMicros() + 1000,
      (scheduled, index) => {
        const receiver = this.receivers[index];
        if (receiver !== undefined) attempts.push(connectOne(receiver, scheduled));
      },
      this.receivers.length,
    );
    await schedule.done;
    await Promise.all(attempts);
    this.emit({
      type: 'ready',
      agentIndex: setup.agentIndex,
      open: this.open,
      failed,
      errorsByCode,
      subscribedByChannel,
      connectHistogram: encodeHistogram(connectHistogram),
      connectWallMs: Date.now() - began,
      ...(firstError !== undefined ? { firstError } : {}),
    });
    connectHistogram.destroy();
  }

  private requireDriver(): Driver {
    if (this.driver === undefined) throw new Error('agent used before setup');
    return this.driver;
  }

  private beginPhase(phase: number, startMicros: number, durationMs: number, activity: Activity | undefined): void {
    this.currentPhase = phase;
    const stats = this.stats(phase);
    this.activity?.stop();
    this.activity = undefined;
    if (activity === undefined) return;
    const operation =
      activity.kind === 'client-events'
        ? this.clientEventOperation(phase, stats, activity.payloadBytes)
        : this.churnOperation(stats, activity.channels, activity.holdMs);
    this.activity = runSchedule(activity.pattern, durationMs, startMicros, operation);
    void this.activity.done.then((result) => {
      stats.scheduleLagMaxMs = Math.max(stats.scheduleLagMaxMs, result.maxLagMs);
    });
  }

  private clientEventOperation(phase: number, stats: PhaseStats, payloadBytes: number): (scheduled: number, index: number) => void {
    const members = this.receivers;
    let next = 0;
    return (scheduled) => {
      // Round robin over connected members; a disconnected member's turn passes to the next.
      for (let tries = 0; tries < members.length; tries++) {
        const member = members[next];
        next = (next + 1) % members.length;
        if (member?.client === undefined) continue;
        member.client.sendClientEvent(
          member.channel,
          encodeMarker({ scheduledMicros: scheduled, phase, publisher: member.globalIndex, connection: 0, seq: member.seq++ }, payloadBytes),
        );
        stats.published++;
        stats.publishedByChannel[member.channel] = (stats.publishedByChannel[member.channel] ?? 0) + 1;
        return;
      }
      bump(stats.opErrors, 'no_connected_member');
    };
  }

  private churnOperation(stats: PhaseStats, channels: string[], holdMs: number): (scheduled: number, index: number) => void {
    const setup = this.setup;
    if (setup === undefined) throw new Error('agent used before setup');
    return (scheduled, index) => {
      stats.ops++;
      // Bounded: a target that stops answering must not make the generator open sockets without end.
      if (this.churnClients.size >= 5000) {
        bump(stats.opErrors, 'generator_backlog');
        return;
      }
      const channel = channels[index % channels.length] ?? 'churn';
      const address = setup.sourceAddresses[index % Math.max(1, setup.sourceAddresses.length)];
      void (async () => {
        let client: BenchClient | undefined;
        try {
          client = await this.requireDriver().connect(churnHandlers(this), { timeoutMs: setup.timeoutMs, ...(address ? { localAddress: address } : {}) });
          this.churnClients.add(client);
          this.open++;
          await client.subscribe(channel, { timeoutMs: setup.timeoutMs, userId: `${setup.userPrefix}churn-${setup.agentIndex}-${index}` });
          recordMicros(stats.opLatency, nowMicros() - scheduled);
          if (holdMs > 0) await new Promise((resolve) => setTimeout(resolve, holdMs));
        } catch (err) {
          bump(stats.opErrors, errorCode(err));
        } finally {
          if (client !== undefined && this.churnClients.delete(client)) {
            client.close();
            this.open--;
          }
        }
      })();
    };
  }

  private tick(): void {
    const setup = this.setup;
    if (setup === undefined) return;
    const at = nowMicros();
    const cpu = process.cpuUsage(this.lastTick.cpu);
    const stats = this.stats(this.currentPhase);
    this.emit({
      type: 'tick',
      agentIndex: setup.agentIndex,
      atMicros: at,
      intervalMicros: at - this.lastTick.at,
      cpuMicros: cpu.user + cpu.system,
      deliveries: this.intervalDeliveries,
      histogram: this.intervalDeliveries > 0 ? encodeHistogram(this.interval) : '',
      phase: this.currentPhase,
      phaseUnique: stats.unique,
      phasePublished: stats.published,
      phaseMemberEvents: stats.memberEvents,
      ops: stats.ops,
      open: this.open,
      closes: this.closes,
    });
    this.lastTick = { at, cpu: process.cpuUsage() };
    this.interval.reset();
    this.intervalDeliveries = 0;
    this.closes = {};
  }

  private report(phase: number): void {
    const stats = this.stats(phase);
    this.emit({
      type: 'report',
      agentIndex: this.setup?.agentIndex ?? -1,
      phase,
      unique: stats.unique,
      duplicates: stats.duplicates,
      outOfOrder: this.outOfOrderTotal(phase),
      latency: encodeHistogram(stats.latency),
      published: stats.published,
      publishedByChannel: stats.publishedByChannel,
      ops: stats.ops,
      opErrors: stats.opErrors,
      opLatency: encodeHistogram(stats.opLatency),
      memberEvents: stats.memberEvents,
      scheduleLagMaxMs: stats.scheduleLagMaxMs,
    });
  }

  // Out-of-order is tracked per stream across phases; a phase reports the growth since the last report.
  private reportedOutOfOrder = 0;
  private outOfOrderTotal(phase: number): number {
    void phase;
    const total = this.receivers.reduce((sum, r) => sum + r.tracker.outOfOrder(), 0);
    const delta = total - this.reportedOutOfOrder;
    this.reportedOutOfOrder = total;
    return delta;
  }

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.activity?.stop();
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.tick();
    for (const receiver of this.receivers) receiver.client?.close();
    for (const client of this.churnClients) client.close();
    this.churnClients.clear();
  }
}
