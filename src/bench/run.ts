import { startAgents, type AgentHandle } from './agent-pool.js';
import { nowMicros, sleep } from './clock.js';
import { createDriver } from './drivers/index.js';
import type { DriverName, Publisher, TargetSpec } from './drivers/types.js';
import { SwitchboardBenchConnectError, SwitchboardBenchUsageError } from './errors.js';
import { createHistogram, mergeEncoded, summarize, type LatencyHistogram } from './histogram.js';
import { addCounts, type AgentEvent, type CodeCounts, type PhaseReportEvent, type ReadyEvent, type ReceiverGroup, type TickEvent } from './messages.js';
import { describePattern, patternProblem, rateAt, scalePattern, type LoadPattern } from './patterns.js';
import { machineInfo, RESULTS_SCHEMA, type BenchResults, type PhaseResult, type TimelinePoint } from './results.js';
import { planScenario, type ScenarioName, type ScenarioPlan, type ScenarioSizes } from './scenarios/index.js';
import { PublishLoop, type PublisherIdentity } from './publish-loop.js';
import { lossOf } from './sequence-tracker.js';
import { rssGrowthMiBPerHour, ServerSampler } from './server-sampler.js';
import { evaluateThresholds, type Threshold, type ThresholdFacts } from './thresholds.js';

/** Everything one benchmark run needs; the CLI builds it from flags. */
export interface RunOptions {
  scenario: ScenarioName;
  driver: DriverName;
  target: TargetSpec;
  sizes: ScenarioSizes;
  pattern: LoadPattern;
  /** Length of the measured phase (of each step under find-max). */
  durationMs: number;
  /** Step the pattern's rate up by `factor` until a threshold fails; report the last good step. */
  findMax?: { factor: number; maxSteps: number };
  thresholds: Threshold[];
  /** Generator worker processes; 0 runs the clients in this process. */
  workers: number;
  /** taskset CPU list for the workers, e.g. "1". */
  generatorCpus?: string;
  serverPid?: number;
  metricsUrl?: string;
  sourceAddresses: string[];
  /** Opening rate (clients/s) of the receivers when the pattern drives something else. */
  connectRate: number;
  connectConcurrency: number;
  timeoutMs: number;
  drainMs: number;
  /** Load before the first measured phase, not reported: JIT, connection pools and caches settle. */
  warmupMs: number;
  payloadBytes: number;
  maxSockets: number;
  label?: string;
  command: string[];
  onProgress?: (update: ProgressUpdate) => void;
}

export interface ProgressUpdate {
  stage: 'connecting' | 'running' | 'draining' | 'done';
  phase: number;
  phaseCount: number;
  /** Time into the current phase, and its length. */
  elapsedMs: number;
  phaseMs: number;
  rate: number;
  point: TimelinePoint;
}

// The orchestrator's publisher id in markers; agents' clients use their global index + 1 and up.
const ORCHESTRATOR_PUBLISHER = 0;
const SATURATED_PCT = 90;
const TICK_MS = 500;

/** Split every group's clients over the agents, keeping global indexes unique. */
export function splitGroups(groups: readonly ReceiverGroup[], agents: number): ReceiverGroup[][] {
  const shares: ReceiverGroup[][] = Array.from({ length: agents }, () => []);
  let rotate = 0;
  for (const group of groups) {
    let index = group.firstIndex;
    for (let k = 0; k < agents; k++) {
      // Rotating the first agent keeps single-client groups (the connections scenario) evenly spread.
      const a = (k + rotate) % agents;
      const count = Math.floor(group.count / agents) + (k < group.count % agents ? 1 : 0);
      if (count > 0) shares[a]?.push({ channel: group.channel, count, firstIndex: index + 1 });
      index += count;
    }
    rotate = (rotate + group.count) % agents;
  }
  return shares;
}

/** The rate a pattern peaks at over a phase, for labels and find-max. */
function peakRate(pattern: LoadPattern, durationMs: number): number {
  let peak = 0;
  for (let t = 0; t < durationMs; t += Math.max(1, durationMs / 200)) peak = Math.max(peak, rateAt(pattern, t, durationMs));
  return Math.round(peak * 100) / 100;
}

/** Live state of one run, fed by agent events. */
class RunState {
  readonly ready: ReadyEvent[] = [];
  readonly reports: PhaseReportEvent[] = [];
  readonly latestTicks = new Map<number, TickEvent>();
  readonly phaseCpu = new Map<number, Map<number, { cpu: number; time: number }>>();
  readonly closes: CodeCounts = {};
  fatal: string | undefined;
  window: LatencyHistogram = createHistogram();
  windowDeliveries = 0;
  windowAgentCpu = new Map<number, { cpu: number; time: number }>();

  onEvent = (event: AgentEvent): void => {
    switch (event.type) {
      case 'ready':
        this.ready.push(event);
        return;
      case 'report':
        this.reports.push(event);
        return;
      case 'fatal':
        this.fatal ??= event.message;
        return;
      case 'tick': {
        this.latestTicks.set(event.agentIndex, event);
        this.windowDeliveries += event.deliveries;
        if (event.histogram !== '') mergeEncoded(this.window, [event.histogram]);
        addCounts(this.closes, event.closes);
        const w = this.windowAgentCpu.get(event.agentIndex) ?? { cpu: 0, time: 0 };
        this.windowAgentCpu.set(event.agentIndex, { cpu: w.cpu + event.cpuMicros, time: w.time + event.intervalMicros });
        if (event.phase > 0) {
          const perAgent = this.phaseCpu.get(event.phase) ?? new Map<number, { cpu: number; time: number }>();
          const p = perAgent.get(event.agentIndex) ?? { cpu: 0, time: 0 };
          perAgent.set(event.agentIndex, { cpu: p.cpu + event.cpuMicros, time: p.time + event.intervalMicros });
          this.phaseCpu.set(event.phase, perAgent);
        }
      }
    }
  };

  /** Deliveries (or member events) counted so far in `phase`, over all agents. */
  phaseProgress(phase: number): number {
    let total = 0;
    for (const tick of this.latestTicks.values()) if (tick.phase === phase) total += tick.phaseUnique + tick.phaseMemberEvents;
    return total;
  }

  openConnections(): number {
    let total = 0;
    for (const tick of this.latestTicks.values()) total += tick.open;
    return total;
  }
}

async function waitUntil(check: () => boolean, state: RunState, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (state.fatal !== undefined) throw new Error(`generator worker failed: ${state.fatal}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** Check that the target answers at all, so a wrong URL fails fast with one clear message. */
async function probeTarget(options: RunOptions): Promise<void> {
  const driver = createDriver(options.driver, options.target);
  try {
    const client = await driver.connect({ onFrame: () => false, onClose: () => undefined }, { timeoutMs: Math.min(options.timeoutMs, 5000) });
    client.close();
  } catch (err) {
    throw new SwitchboardBenchConnectError(
      `cannot reach ${options.target.url} with the ${options.driver} driver: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** Run one benchmark from start to finish and return its results (thresholds already evaluated). */
export async function runBenchmark(options: RunOptions): Promise<BenchResults> {
  const problem = patternProblem(options.pattern);
  if (problem !== undefined) throw new SwitchboardBenchUsageError(`load pattern: ${problem}`);
  const driver = createDriver(options.driver, options.target, { maxSockets: options.maxSockets });
  const plan = planScenario(options.scenario, options.sizes, driver);
  if (options.findMax !== undefined && plan.publishChannels.length === 0 && plan.activity === undefined) {
    throw new SwitchboardBenchUsageError(`--find-max needs a rate to raise; ${options.scenario} has none`);
  }
  await probeTarget(options);

  const startedAt = new Date();
  const runStart = Date.now();
  const state = new RunState();
  const sampler = new ServerSampler({
    ...(options.serverPid !== undefined ? { pid: options.serverPid } : {}),
    ...(options.metricsUrl !== undefined ? { metricsUrl: options.metricsUrl } : {}),
  });
  const before = await sampler.sample();
  sampler.start();
  const agents = startAgents(options.workers, state.onEvent, options.generatorCpus);
  const timeline: TimelinePoint[] = [];
  let publisher: Publisher | undefined;
  let phaseNow = 0;
  let publishesInWindow = 0;
  let parentCpu = process.cpuUsage();
  let lastPointAt = Date.now();
  let progress: Omit<ProgressUpdate, 'point'> = { stage: 'connecting', phase: 0, phaseCount: 1, elapsedMs: 0, phaseMs: 0, rate: 0 };

  const snapshot = (): void => {
    const now = Date.now();
    const seconds = Math.max(0.001, (now - lastPointAt) / 1000);
    const cpu = process.cpuUsage(parentCpu);
    let generatorCpuPct = ((cpu.user + cpu.system) / 1000 / (now - lastPointAt || 1)) * 100;
    for (const w of state.windowAgentCpu.values()) if (w.time > 0) generatorCpuPct = Math.max(generatorCpuPct, (w.cpu / w.time) * 100);
    const latency = summarize(state.window);
    const server = sampler.latest();
    const point: TimelinePoint = {
      tMs: now - runStart,
      phase: phaseNow,
      deliveriesPerSec: Math.round(state.windowDeliveries / seconds),
      publishesPerSec: Math.round(publishesInWindow / seconds),
      p50Ms: latency.p50,
      p99Ms: latency.p99,
      maxMs: latency.max,
      connections: state.openConnections(),
      generatorCpuPct: Math.round(generatorCpuPct),
      ...(server?.cpuPct !== undefined ? { serverCpuPct: server.cpuPct } : {}),
      ...(server?.rssMiB !== undefined ? { serverRssMiB: server.rssMiB } : {}),
    };
    timeline.push(point);
    state.window.reset();
    state.windowDeliveries = 0;
    state.windowAgentCpu.clear();
    publishesInWindow = 0;
    parentCpu = process.cpuUsage();
    lastPointAt = now;
    options.onProgress?.({ ...progress, elapsedMs: progress.stage === 'connecting' ? now - runStart : progress.elapsedMs, point });
  };
  const snapshots = setInterval(snapshot, 1000);

  try {
    // 1. Connect every receiving client, spread over the agents.
    const shares = splitGroups(plan.groups, agents.length);
    const connectPattern = plan.patternDrivesConnect ? options.pattern : ({ kind: 'constant', rate: options.connectRate } as const);
    const clients = plan.groups.reduce((a, g) => a + g.count, 0);
    agents.forEach((agent, i) =>
      agent.send({
        type: 'setup',
        setup: {
          driver: options.driver,
          target: options.target,
          agentIndex: agent.index,
          groups: shares[i] ?? [],
          connectPattern: scalePattern(connectPattern, 1 / agents.length),
          connectConcurrency: Math.max(1, Math.ceil(options.connectConcurrency / agents.length)),
          timeoutMs: options.timeoutMs,
          sourceAddresses: options.sourceAddresses,
          userPrefix: 'bench-user-',
          tickMs: TICK_MS,
        },
      }),
    );
    const connectBudgetMs = 60_000 + (clients / Math.max(1, peakRate(connectPattern, 60_000))) * 2000 + options.timeoutMs;
    await waitUntil(() => state.ready.length === agents.length, state, connectBudgetMs, 'the clients to connect');
    const connectHistogram = mergeEncoded(
      createHistogram(),
      state.ready.map((r) => r.connectHistogram),
    );
    const subscribed: Record<string, number> = {};
    for (const r of state.ready) addCounts(subscribed, r.subscribedByChannel);
    const open = state.ready.reduce((a, r) => a + r.open, 0);
    const failed = state.ready.reduce((a, r) => a + r.failed, 0);
    const connectWallMs = Math.max(0, ...state.ready.map((r) => r.connectWallMs));
    const connectsPerSec = connectWallMs > 0 ? Math.round((open / connectWallMs) * 1000) : 0;
    if (clients > 0 && open === 0) {
      throw new SwitchboardBenchConnectError(
        `no client could connect to ${options.target.url}: ${state.ready.find((r) => r.firstError)?.firstError ?? 'unknown error'}`,
      );
    }
    await sleep(plan.patternDrivesConnect ? 1000 : 200);
    const afterConnect = await sampler.sample();

    if (plan.publishChannels.length > 0) publisher = await driver.createPublisher();

    // 2. The measured phases: one, or the find-max ladder.
    const phases: PhaseResult[] = [];
    const histograms: Array<{ latency: LatencyHistogram; operation: LatencyHistogram }> = [];
    const maxSteps = options.findMax?.maxSteps ?? 1;
    let pattern = options.pattern;
    const identity: PublisherIdentity = { id: ORCHESTRATOR_PUBLISHER, nextSeq: [] };
    const countPublish = (): void => void publishesInWindow++;
    if (options.warmupMs > 0 && !plan.patternDrivesConnect && (publisher !== undefined || plan.activity !== undefined)) {
      await warmUp(options, plan, agents, publisher, identity, countPublish, (p) => (progress = p), state);
    }
    for (let phase = 1; phase <= maxSteps; phase++) {
      phaseNow = phase;
      const durationMs = options.durationMs;
      const rate = peakRate(pattern, durationMs);
      progress = { stage: 'running', phase, phaseCount: maxSteps, elapsedMs: 0, phaseMs: durationMs, rate };
      const startMicros = nowMicros() + 100_000;
      const activity = plan.patternDrivesConnect ? undefined : plan.activity?.(pattern);
      if (activity !== undefined) activity.pattern = scalePattern(activity.pattern, 1 / agents.length);
      for (const agent of agents) agent.send({ type: 'phase', phase, startMicros, durationMs, ...(activity !== undefined ? { activity } : {}) });

      const phaseCpuStart = process.cpuUsage();
      const phaseWallStart = Date.now();
      const publishing =
        publisher !== undefined
          ? new PublishLoop(publisher, plan.publishChannels, pattern, durationMs, startMicros, phase, options.payloadBytes, identity, countPublish)
          : undefined;
      const publishedOk = publishing?.publishedOk ?? {};
      const publishErrorsByCode = publishing?.errorsByCode ?? {};
      const phaseEnd = Date.now() + 100 + durationMs;
      while (Date.now() < phaseEnd) {
        if (state.fatal !== undefined) throw new Error(`generator worker failed: ${state.fatal}`);
        progress.elapsedMs = Math.max(0, Date.now() - phaseEnd + durationMs);
        await sleep(Math.min(100, Math.max(1, phaseEnd - Date.now())));
      }
      const publisherLagMaxMs = publishing !== undefined ? (await publishing.sent()).maxLagMs : 0;
      await waitUntil(() => (publishing?.inFlight ?? 0) === 0, state, options.timeoutMs + 1000, 'publishes to complete').catch(() => undefined);

      const publishErrors = publishing?.errors ?? 0;

      // Drain: until everything expected arrived, nothing new came for a second, or the limit.
      progress.stage = 'draining';
      const drainStart = Date.now();
      const expectedSoFar = (): number => drainTarget(plan, state, phase, startMicros + durationMs * 1000, publishedOk, subscribed);
      let lastCount = -1;
      let lastChange = Date.now();
      while (Date.now() - drainStart < options.drainMs) {
        const count = state.phaseProgress(phase);
        if (count >= expectedSoFar()) break;
        if (count !== lastCount) {
          lastCount = count;
          lastChange = Date.now();
        } else if (Date.now() - lastChange >= 1000 + TICK_MS) break;
        await sleep(TICK_MS / 2);
      }
      const drainMs = Date.now() - drainStart;
      const parentCpuPhase = process.cpuUsage(phaseCpuStart);
      const parentPct = ((parentCpuPhase.user + parentCpuPhase.system) / 1000 / Math.max(1, Date.now() - phaseWallStart)) * 100;

      for (const agent of agents) agent.send({ type: 'report', phase });
      await waitUntil(() => state.reports.filter((r) => r.phase === phase).length === agents.length, state, 15_000, 'phase reports');
      const reports = state.reports.filter((r) => r.phase === phase);
      const latency = mergeEncoded(
        createHistogram(),
        reports.map((r) => r.latency),
      );
      const operation = mergeEncoded(
        createHistogram(),
        reports.map((r) => r.opLatency),
      );
      histograms.push({ latency, operation });
      const clientEvents: Record<string, number> = {};
      const operationErrors: CodeCounts = {};
      for (const r of reports) {
        addCounts(clientEvents, r.publishedByChannel);
        addCounts(operationErrors, r.opErrors);
      }
      addCounts(operationErrors, publishErrorsByCode);
      const operations = reports.reduce((a, r) => a + r.ops, 0);
      const operationFailures = Object.entries(operationErrors).reduce((a, [code, n]) => a + (code in publishErrorsByCode ? 0 : n), 0);
      const expected = plan.expected(publishedOk, clientEvents, operations - operationFailures, subscribed);
      const delivered = reports.reduce((a, r) => a + (plan.countsMemberEvents ? r.memberEvents : r.unique), 0);
      const agentPcts = [...(state.phaseCpu.get(phase)?.values() ?? [])].map((c) => (c.time > 0 ? (c.cpu / c.time) * 100 : 0));
      const generatorCpuPct = Math.round(Math.max(parentPct, ...agentPcts));
      const published = Object.values(publishedOk).reduce((a, b) => a + b, 0);
      const result: PhaseResult = {
        phase,
        pattern: describePattern(pattern),
        rate,
        durationMs,
        drainMs,
        published,
        publishErrors,
        clientEvents: reports.reduce((a, r) => a + r.published, 0),
        operations,
        operationErrors,
        expected,
        delivered,
        ...lossOf(expected, delivered),
        duplicates: reports.reduce((a, r) => a + r.duplicates, 0),
        outOfOrder: reports.reduce((a, r) => a + r.outOfOrder, 0),
        deliveriesPerSec: Math.round(delivered / (durationMs / 1000)),
        latencyMs: summarize(latency),
        operationLatencyMs: summarize(operation),
        publisherLagMaxMs: Math.round(Math.max(publisherLagMaxMs, ...reports.map((r) => r.scheduleLagMaxMs)) * 1000) / 1000,
        generatorCpuPct,
        generatorSaturated: generatorCpuPct >= SATURATED_PCT,
        thresholds: [],
        passed: true,
      };
      result.thresholds = evaluateThresholds(
        options.thresholds,
        factsOf(result, plan, { connectMs: summarize(connectHistogram), failed, attempted: clients, closes: 0, connectsPerSec }),
      );
      result.passed = result.thresholds.every((t) => t.pass);
      phases.push(result);
      if (options.findMax === undefined || !result.passed) break;
      pattern = scalePattern(pattern, options.findMax.factor);
      if (patternProblem(pattern) !== undefined) break;
    }

    // 3. Tear down and assemble the results.
    progress = { ...progress, stage: 'done' };
    await Promise.all(agents.map((a) => a.close()));
    await publisher?.close();
    clearInterval(snapshots);
    snapshot();
    await sampler.stop();

    const totals = mergePhases(phases, histograms);
    const connectSummary = summarize(connectHistogram);
    const closes = Object.values(state.closes).reduce((a, b) => a + b, 0);
    const connectionFacts = { connectMs: connectSummary, failed, attempted: clients, closes, connectsPerSec };
    const findMax = options.findMax !== undefined ? findMaxOf(phases) : undefined;
    totals.thresholds =
      findMax !== undefined
        ? (phases.filter((p) => p.passed).at(-1)?.thresholds ?? phases[0]?.thresholds ?? [])
        : evaluateThresholds(options.thresholds, factsOf(totals, plan, connectionFacts));
    totals.passed = findMax !== undefined ? findMax.lastGoodRate !== null : totals.thresholds.every((t) => t.pass);
    const maxProcessCpuPct = Math.max(0, ...phases.map((p) => p.generatorCpuPct));
    const cpuSamples = sampler.samples.filter((s) => s.cpuPct !== undefined).map((s) => s.cpuPct ?? 0);
    const rssValues = sampler.samples.filter((s) => s.rssMiB !== undefined).map((s) => s.rssMiB ?? 0);
    const growth = rssGrowthMiBPerHour(sampler.samples);
    return {
      schema: RESULTS_SCHEMA,
      ...(options.label !== undefined ? { label: options.label } : {}),
      scenario: options.scenario,
      driver: options.driver,
      target: { url: options.target.url, httpUrl: options.target.httpUrl ?? '', appId: options.target.appId },
      command: options.command,
      machine: machineInfo(),
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      options: publicOptions(options),
      connections: {
        attempted: clients,
        open,
        failed,
        errorsByCode: state.ready.reduce((acc, r) => addCounts(acc, r.errorsByCode), {} as CodeCounts),
        connectMs: connectSummary,
        connectWallMs,
        connectsPerSec,
        closesByCode: state.closes,
      },
      phases,
      totals,
      ...(findMax !== undefined ? { findMax } : {}),
      generator: {
        workers: options.workers,
        maxProcessCpuPct,
        saturated: maxProcessCpuPct >= SATURATED_PCT,
        ...(maxProcessCpuPct >= SATURATED_PCT
          ? { note: 'a generator process used ≥90% of a core: latency includes the generator’s own queueing and the target may do better' }
          : {}),
      },
      server: {
        ...(options.serverPid !== undefined ? { pid: options.serverPid } : {}),
        ...(options.metricsUrl !== undefined && sampler.metricsAvailable ? { metricsUrl: options.metricsUrl } : {}),
        ...(before.rssMiB !== undefined ? { rssStartMiB: before.rssMiB } : {}),
        ...(rssValues.length > 0 ? { rssEndMiB: rssValues[rssValues.length - 1], rssPeakMiB: Math.max(...rssValues) } : {}),
        ...(before.rssMiB !== undefined && afterConnect.rssMiB !== undefined && open > 0
          ? { memoryPerConnectionKiB: Math.round(((afterConnect.rssMiB - before.rssMiB) * 1024 * 10) / open) / 10 }
          : {}),
        ...(cpuSamples.length > 0 ? { cpuAvgPct: Math.round((cpuSamples.reduce((a, b) => a + b, 0) / cpuSamples.length) * 10) / 10 } : {}),
        ...(growth !== undefined ? { rssGrowthMiBPerHour: growth } : {}),
        samples: sampler.samples,
      },
      timeline,
      thresholds: totals.thresholds,
      passed: totals.passed,
    };
  } finally {
    clearInterval(snapshots);
    await Promise.all(agents.map((a: AgentHandle) => a.close()));
    await publisher?.close().catch(() => undefined);
    await sampler.stop();
  }
}

// Warm-up runs at the first phase's rate, capped here so it never overloads the target before the run.
const WARMUP_RATE_CAP = 50;

/** Phase 0: the first pattern's load (capped) for `warmupMs`; its deliveries are never reported. */
async function warmUp(
  options: RunOptions,
  plan: ScenarioPlan,
  agents: AgentHandle[],
  publisher: Publisher | undefined,
  identity: PublisherIdentity,
  countPublish: () => void,
  setProgress: (p: Omit<ProgressUpdate, 'point'>) => void,
  state: RunState,
): Promise<void> {
  const rate = Math.min(WARMUP_RATE_CAP, peakRate(options.pattern, options.durationMs));
  const pattern: LoadPattern = { kind: 'constant', rate };
  setProgress({ stage: 'running', phase: 0, phaseCount: options.findMax?.maxSteps ?? 1, elapsedMs: 0, phaseMs: options.warmupMs, rate });
  const startMicros = nowMicros() + 50_000;
  const activity = plan.activity?.(pattern);
  if (activity !== undefined) activity.pattern = scalePattern(activity.pattern, 1 / agents.length);
  for (const agent of agents)
    agent.send({ type: 'phase', phase: 0, startMicros, durationMs: options.warmupMs, ...(activity !== undefined ? { activity } : {}) });
  const loop =
    publisher !== undefined
      ? new PublishLoop(publisher, plan.publishChannels, pattern, options.warmupMs, startMicros, 0, options.payloadBytes, identity, countPublish)
      : undefined;
  await sleep(50 + options.warmupMs);
  await loop?.sent();
  await waitUntil(() => (loop?.inFlight ?? 0) === 0, state, options.timeoutMs, 'warm-up publishes').catch(() => undefined);
  // Let the warm-up's last deliveries and churn clients finish before measuring.
  await sleep(Math.max(300, plan.activity !== undefined ? options.sizes.holdMs : 0));
}

/**
 * What the drain waits for: the plan's expected deliveries from the running totals of the ticks.
 * Client events are spread evenly over the subscribed channels, which is exact for equal rooms; when
 * the estimate is off, the drain still ends after a quiet second.
 */
function drainTarget(
  plan: ScenarioPlan,
  state: RunState,
  phase: number,
  phaseEndMicros: number,
  publishedOk: Record<string, number>,
  subscribed: Record<string, number>,
): number {
  let clientEvents = 0;
  let ops = 0;
  for (const tick of state.latestTicks.values()) {
    if (tick.phase !== phase) continue;
    // A tick from before the phase ended may not count the last client events yet.
    if (tick.atMicros < phaseEndMicros) return Number.POSITIVE_INFINITY;
    clientEvents += tick.phasePublished;
    ops += tick.ops;
  }
  const channels = Object.keys(subscribed);
  const spreadEvents: Record<string, number> = {};
  for (const channel of channels) spreadEvents[channel] = clientEvents / channels.length;
  return plan.expected(publishedOk, spreadEvents, ops, subscribed);
}

function factsOf(
  phase: PhaseResult,
  plan: ScenarioPlan,
  connections: { connectMs: ReturnType<typeof summarize>; failed: number; attempted: number; closes: number; connectsPerSec: number },
): ThresholdFacts {
  const latency = plan.primary === 'delivery' ? phase.latencyMs : plan.primary === 'operation' ? phase.operationLatencyMs : connections.connectMs;
  const operationErrors = Object.values(phase.operationErrors).reduce((a, b) => a + b, 0);
  const rate =
    plan.primary === 'delivery' || plan.countsMemberEvents
      ? phase.deliveriesPerSec
      : plan.primary === 'operation'
        ? Math.round(phase.operations / (phase.durationMs / 1000))
        : connections.connectsPerSec;
  return {
    latency,
    expected: phase.expected,
    loss: phase.loss,
    // publishErrors are already inside operationErrors (by code).
    errors: operationErrors + connections.failed + connections.closes,
    attempts: Math.max(1, phase.published + phase.publishErrors + phase.clientEvents + phase.operations + connections.attempted),
    duplicates: phase.duplicates,
    outOfOrder: phase.outOfOrder,
    rate,
  };
}

/** All phases as one: counts summed, histograms merged. */
function mergePhases(phases: PhaseResult[], histograms: Array<{ latency: LatencyHistogram; operation: LatencyHistogram }>): PhaseResult {
  const latency = createHistogram();
  const operation = createHistogram();
  for (const h of histograms) {
    latency.add(h.latency);
    operation.add(h.operation);
  }
  const sum = (f: (p: PhaseResult) => number): number => phases.reduce((a, p) => a + f(p), 0);
  const durationMs = sum((p) => p.durationMs);
  const expected = sum((p) => p.expected);
  const delivered = sum((p) => p.delivered);
  const generatorCpuPct = Math.max(0, ...phases.map((p) => p.generatorCpuPct));
  return {
    phase: 0,
    pattern: phases.map((p) => p.pattern).join(' | '),
    rate: Math.max(0, ...phases.map((p) => p.rate)),
    durationMs,
    drainMs: sum((p) => p.drainMs),
    published: sum((p) => p.published),
    publishErrors: sum((p) => p.publishErrors),
    clientEvents: sum((p) => p.clientEvents),
    operations: sum((p) => p.operations),
    operationErrors: phases.reduce((acc, p) => addCounts(acc, p.operationErrors), {} as CodeCounts),
    expected,
    delivered,
    ...lossOf(expected, delivered),
    duplicates: sum((p) => p.duplicates),
    outOfOrder: sum((p) => p.outOfOrder),
    deliveriesPerSec: durationMs > 0 ? Math.round(delivered / (durationMs / 1000)) : 0,
    latencyMs: summarize(latency),
    operationLatencyMs: summarize(operation),
    publisherLagMaxMs: Math.max(0, ...phases.map((p) => p.publisherLagMaxMs)),
    generatorCpuPct,
    generatorSaturated: phases.some((p) => p.generatorSaturated),
    thresholds: [],
    passed: true,
  };
}

/** The last step that passed with every step before it, and the first that failed. */
export function findMaxOf(phases: readonly PhaseResult[]): { lastGoodRate: number | null; firstBadRate: number | null } {
  let lastGoodRate: number | null = null;
  for (const p of phases) {
    if (!p.passed) return { lastGoodRate, firstBadRate: p.rate };
    lastGoodRate = p.rate;
  }
  return { lastGoodRate, firstBadRate: null };
}

function publicOptions(options: RunOptions): Record<string, unknown> {
  const { target, onProgress: _onProgress, thresholds, command: _command, ...rest } = options;
  return { ...rest, target: { url: target.url, httpUrl: target.httpUrl, appId: target.appId, key: target.key }, thresholds: thresholds.map((t) => t.source) };
}
