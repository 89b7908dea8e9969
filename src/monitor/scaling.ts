import { desiredNodes, StabilizationWindow, type NodeSignals, type SignalAdvice, type SignalTarget } from './hpa.js';

/** A node's load as the advisor reads it from heartbeats (src/cluster/messages.ts NodeLoad). */
export interface MemberLoad {
  id: string;
  load: {
    connections: number;
    elu?: number;
    cpu?: number;
    state?: 'starting' | 'ready' | 'draining';
  };
}

export interface ScalingSettings {
  targetConnections: number;
  targetElu: number;
  targetCpu: number;
  tolerance: number;
  stabilizationMs: number;
  minNodes: number;
  maxNodes: number;
}

/** The advice `GET /cluster/scaling` gives, with its reason. */
export interface ScalingAdvice {
  /** Nodes the cluster should run. */
  desired: number;
  /** Nodes counted now (draining ones left out, as the HPA leaves out terminating pods). */
  current: number;
  /** Before the stabilization window and min/max. */
  recommended: number;
  minNodes: number;
  maxNodes: number;
  reason: string;
  signals: SignalAdvice[];
  /** The node that computed it and when (ISO). */
  computedBy: string;
  computedAt: string;
}

/** The advisor's signal names, also the keys of NodeSignals.values. */
const SCALING_SIGNALS = { connections: 'connections', elu: 'eventLoopUtilization', cpu: 'cpu' } as const;

/**
 * The HPA rule over the cluster's heartbeats, with its scale-down
 * stabilization window. Every node runs one on the same heartbeats, so a
 * new leader takes over with a window already filled; the leader's advice is
 * the cluster's.
 */
export class ScalingAdvisor {
  private readonly window: StabilizationWindow;
  private readonly targets: SignalTarget[];

  constructor(
    private readonly settings: ScalingSettings,
    private readonly nodeId: string,
  ) {
    this.window = new StabilizationWindow(settings.stabilizationMs);
    this.targets = [
      { name: SCALING_SIGNALS.connections, target: settings.targetConnections },
      { name: SCALING_SIGNALS.elu, target: settings.targetElu },
      { name: SCALING_SIGNALS.cpu, target: settings.targetCpu },
    ];
  }

  compute(members: readonly MemberLoad[], now: number = Date.now()): ScalingAdvice {
    const { minNodes, maxNodes, tolerance } = this.settings;
    const counted = members.filter((m) => m.load.state !== 'draining');
    const nodes: NodeSignals[] = counted.map((m) => ({ id: m.id, ready: m.load.state !== 'starting', values: signalValues(m.load) }));
    const current = counted.length;
    const result = desiredNodes(current, nodes, this.targets, tolerance);
    const recommended = result.desired;
    // As the HPA's behavior does (stabilizeRecommendationWithBehaviors): the count moves from `current`
    // up to a higher recommendation at once, and down no further than the window's highest. The window
    // only holds scale-downs back; it never raises the count above `current` by itself. (Taking the
    // window's highest as the advice did that: right after a scale-down, or under a new leader whose
    // window still held the busy minutes, it asked to scale up again with no load to justify it.)
    const windowHighest = this.window.push(recommended, now);
    const stabilized = recommended > current ? recommended : Math.min(current, windowHighest);
    const desired = Math.min(maxNodes, Math.max(minNodes, stabilized));
    const parts: string[] = [result.deciding === null ? 'no signal has data: keep the current count' : result.deciding.reason];
    if (stabilized > recommended)
      parts.push(
        `scale-down held: the highest advice of the last ${Math.round(this.settings.stabilizationMs / 1000)} s is ${windowHighest}${windowHighest > stabilized ? `, so stay at ${stabilized}` : ''}`,
      );
    if (desired > stabilized) parts.push(`raised to scalingMinNodes ${minNodes}`);
    if (desired < stabilized) parts.push(`capped at scalingMaxNodes ${maxNodes}`);
    const verdict = desired > current ? `scale up ${current} → ${desired}` : desired < current ? `scale down ${current} → ${desired}` : `stay at ${current}`;
    return {
      desired,
      current,
      recommended,
      minNodes,
      maxNodes,
      reason: `${verdict}: ${parts.join('; ')}`,
      signals: result.signals,
      computedBy: this.nodeId,
      computedAt: new Date(now).toISOString(),
    };
  }
}

function signalValues(load: MemberLoad['load']): Record<string, number> {
  const values: Record<string, number> = { [SCALING_SIGNALS.connections]: load.connections };
  if (load.elu !== undefined) values[SCALING_SIGNALS.elu] = load.elu;
  if (load.cpu !== undefined) values[SCALING_SIGNALS.cpu] = load.cpu;
  return values;
}
