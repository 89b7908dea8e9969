import type { MonitorApi } from '../api/monitor.js';
import type { ClusterNode } from '../cluster/cluster-node.js';
import type { NodeLoad, ScalingSummary } from '../cluster/messages.js';
import type { Config } from '../config/schema.js';
import type { AdmissionGate } from '../core/node-core.js';
import { monitorMetrics } from '../metrics/index.js';
import type { Endpoint, NodeTransport } from '../transport/types.js';
import type { Logger } from '../util/logger.js';
import { connectionLimit, type ConnectionLimit } from './limits.js';
import { NodeMonitor } from './monitor.js';
import { ScalingAdvisor, type MemberLoad, type ScalingAdvice } from './scaling.js';

/** What load control reads from the node. */
export interface LoadControlDeps {
  connections(): ReadonlySet<Endpoint>;
  readonly transport: NodeTransport;
  /** The node's id in alerts and advice. */
  nodeId(): string;
  cluster(): ClusterNode | null;
  state(): 'starting' | 'ready' | 'draining';
}

/**
 * The node's side of load: its connection limit, its monitor (when on), the
 * admission gate built from both, why `/ready` says 503 for load, what its
 * heartbeats carry, and the scaling advice. node.ts wires it; admission
 * itself stays in src/core/admission.ts.
 */
export class LoadControl {
  readonly limit: ConnectionLimit;
  readonly monitor: NodeMonitor | null;
  /** What admission applies: the connection limit and the monitor's verdict. */
  readonly gate: AdmissionGate;
  private readonly advisor: ScalingAdvisor | null = null;
  private advice: ScalingAdvice | null = null;

  constructor(
    config: Config,
    private readonly deps: LoadControlDeps,
    private readonly log: Logger,
  ) {
    this.limit = connectionLimit(config);
    this.gate = { maxConnections: this.limit.max, loadRefusal: () => this.monitor?.refusal() ?? null };
    this.monitor = config.monitor
      ? new NodeMonitor(
          config,
          {
            nodeId: deps.nodeId,
            connections: deps.connections,
            transport: deps.transport,
            connectionLimit: this.limit.max,
            broker: () => brokerOf(deps.cluster()),
          },
          log,
        )
      : null;
    if (this.monitor !== null) {
      this.advisor = new ScalingAdvisor(
        {
          targetConnections: config.scalingTargetConnections,
          targetElu: config.scalingTargetElu,
          targetCpu: config.scalingTargetCpu,
          tolerance: config.scalingTolerance,
          stabilizationMs: config.scalingStabilizationSeconds * 1000,
          minNodes: config.scalingMinNodes,
          maxNodes: config.scalingMaxNodes,
        },
        'this node',
      );
      this.monitor.onSample(() => this.advise());
    }
    monitorMetrics.connectionLimit.set(this.limit.max);
  }

  start(): void {
    this.log.info(
      { maxConnections: this.limit.max, source: this.limit.source, openFiles: this.limit.openFiles, monitor: this.monitor !== null },
      'connection limit',
    );
    this.monitor?.start();
  }

  async stop(): Promise<void> {
    await this.monitor?.stop();
  }

  /** Why the node is not ready for load, or null: at the connection limit, or a gating signal critical. */
  overload(): string | null {
    const connections = this.deps.connections().size;
    if (this.limit.max > 0 && connections >= this.limit.max) return `connections at the limit (${connections} of ${this.limit.max}, ${this.limit.source})`;
    return this.monitor?.refusal()?.reason ?? null;
  }

  /** The monitor's part of this node's heartbeats. */
  heartbeatLoad(): Omit<NodeLoad, 'connections' | 'channels'> {
    const sample = this.monitor?.latest();
    const load: Omit<NodeLoad, 'connections' | 'channels'> = { state: this.deps.state(), connectionLimit: this.limit.max };
    if (sample !== undefined) {
      load.elu = sample.elu;
      load.cpu = sample.cpuCores;
      load.rssBytes = sample.rssBytes;
      load.heapUsedBytes = sample.heapUsedBytes;
      load.loopDelayP99Ms = sample.loopDelayP99Ms;
      if (typeof sample.broker?.rttMs === 'number') load.brokerRttMs = sample.broker.rttMs;
    }
    const cluster = this.deps.cluster();
    if (this.advice !== null && cluster?.isLeader === true) load.scaling = summary(this.advice);
    return load;
  }

  /** `GET /alerts` and `GET /cluster/scaling`; undefined when the monitor is off. */
  api(): MonitorApi | undefined {
    const monitor = this.monitor;
    if (monitor === null) return undefined;
    return {
      alerts: (withHistory) => ({ ...monitor.alerts(), ...(withHistory ? { history: monitor.history() } : {}) }),
      scaling: () => this.scalingView(),
    };
  }

  private advise(): void {
    if (this.advisor === null) return;
    const cluster = this.deps.cluster();
    const members: MemberLoad[] =
      cluster === null
        ? [{ id: this.deps.nodeId(), load: { connections: this.deps.connections().size, ...this.heartbeatLoad() } }]
        : cluster.describe().nodes.map((n) => ({ id: n.id, load: n.self ? { ...n.load, ...this.heartbeatLoad() } : n.load }));
    this.advice = this.advisor.compute(members);
    const published = this.published();
    monitorMetrics.desiredNodes.set(published?.desired ?? this.advice.desired);
  }

  /** The leader's advice as this node knows it (its own when it leads or runs alone). */
  private published(): (ScalingSummary & { leader: string | null; source: 'this node' | 'leader heartbeat' }) | null {
    const cluster = this.deps.cluster();
    if (this.advice === null) return null;
    if (cluster === null || cluster.isLeader) return { ...summary(this.advice), leader: cluster === null ? null : cluster.id, source: 'this node' };
    const leader = cluster.describe().nodes.find((n) => n.leader && !n.self);
    if (leader?.load.scaling === undefined) return null;
    return { ...leader.load.scaling, leader: leader.id, source: 'leader heartbeat' };
  }

  private scalingView(): unknown {
    const cluster = this.deps.cluster();
    const published = this.published();
    // Before the first sample: say so rather than answer a half-empty advice.
    const own = this.advice ?? { desired: null, current: null, reason: 'no sample yet: the first comes within monitorIntervalMs' };
    if (cluster === null || cluster.isLeader) return { ...own, leader: cluster?.id ?? null, computedBy: this.deps.nodeId(), source: 'this node' };
    if (published === null) {
      // No leader advice yet (no leader, or its first heartbeat is on the way): this node's own computation, marked as such.
      return { ...own, leader: null, computedBy: this.deps.nodeId(), source: 'this node (no leader advice yet)' };
    }
    return { ...published, computedBy: published.leader, local: own };
  }
}

function summary(advice: ScalingAdvice): ScalingSummary {
  return { desired: advice.desired, current: advice.current, reason: advice.reason, computedAt: advice.computedAt };
}

function brokerOf(cluster: ClusterNode | null): { state: string; rttMs: number | null } | null {
  if (cluster === null) return null;
  const rtt = cluster.brokerRoundTripMs;
  return { state: cluster.linkState, rttMs: rtt === null ? null : Math.round(rtt * 1000) / 1000 };
}
