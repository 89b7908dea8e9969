/**
 * Kubernetes' HorizontalPodAutoscaler rule, as a pure function, so that the
 * advice of `GET /cluster/scaling` and an HPA on the same targets agree
 * (k8s.io/kubernetes pkg/controller/podautoscaler: replica_calculator.go and
 * the behavior's stabilization window).
 */

/** What the rule knows of one node. */
export interface NodeSignals {
  id: string;
  /** Starting up (not yet ready): on a scale-up it is assumed to use 0 of each target. */
  ready: boolean;
  /** Values per signal; a signal absent (or the whole map null) is a missing metric. */
  values: Readonly<Record<string, number>> | null;
}

export interface SignalTarget {
  name: string;
  /** Target average value per node; > 0. */
  target: number;
}

export interface SignalAdvice {
  signal: string;
  desired: number;
  /** Average of the nodes with a value, over the target. */
  ratio: number | null;
  average: number | null;
  target: number;
  reason: string;
}

/**
 * Desired node count for one signal (average-value target). Nodes that are
 * ready and report the signal give the usage ratio; within the tolerance the
 * count stays. Then, as the HPA does: nodes missing the metric count as 100%
 * of target on a scale-down and 0% on a scale-up; not-ready nodes count as 0%
 * on a scale-up (and are left out otherwise). If that reverses the direction
 * or lands within the tolerance, the count stays.
 */
export function desiredForSignal(currentNodes: number, nodes: readonly NodeSignals[], signal: SignalTarget, tolerance: number): SignalAdvice {
  const ready: number[] = [];
  let missing = 0;
  let unready = 0;
  for (const node of nodes) {
    const value = node.values?.[signal.name];
    if (!node.ready) unready++;
    else if (value === undefined || !Number.isFinite(value)) missing++;
    else ready.push(value);
  }
  const base = { signal: signal.name, target: signal.target };
  if (ready.length === 0) {
    // Nothing to compute from (the HPA: "unable to get metrics"): no change on this signal.
    return { ...base, desired: currentNodes, ratio: null, average: null, reason: `${signal.name}: no ready node reports it; no change` };
  }
  const sum = ready.reduce((a, b) => a + b, 0);
  const average = sum / ready.length;
  const ratio = average / signal.target;
  const describe = `${signal.name}: average ${fmt(average)} over ${ready.length} node(s) vs target ${fmt(signal.target)} (ratio ${ratio.toFixed(2)})`;
  if (missing === 0 && unready === 0) {
    if (Math.abs(1 - ratio) <= tolerance) return { ...base, desired: currentNodes, ratio, average, reason: `${describe}, within tolerance` };
    const desired = Math.ceil(ratio * ready.length);
    return { ...base, desired, ratio, average, reason: `${describe} → ${desired}` };
  }
  const scaleUp = ratio > 1;
  let total = sum;
  let counted = ready.length;
  // Missing metrics: 100% of target on a scale-down, 0% on a scale-up.
  if (missing > 0) {
    if (!scaleUp) total += missing * signal.target;
    counted += missing;
  }
  // Not-ready nodes only dampen a scale-up.
  if (scaleUp && unready > 0) counted += unready;
  const newRatio = total / counted / signal.target;
  const note = `${missing > 0 ? `, ${missing} missing the metric` : ''}${unready > 0 ? `, ${unready} not ready` : ''}`;
  if (Math.abs(1 - newRatio) <= tolerance || (ratio < 1 && newRatio > 1) || (ratio > 1 && newRatio < 1)) {
    return { ...base, desired: currentNodes, ratio, average, reason: `${describe}${note}: adjusted ratio ${newRatio.toFixed(2)}, no change` };
  }
  let desired = Math.ceil(newRatio * counted);
  // Never a move against the direction the ready nodes point at.
  if ((newRatio < 1 && desired > currentNodes) || (newRatio > 1 && desired < currentNodes)) desired = currentNodes;
  return { ...base, desired, ratio, average, reason: `${describe}${note}: adjusted ratio ${newRatio.toFixed(2)} → ${desired}` };
}

/** Several signals: the largest desired count wins; signals with no data keep the count. */
export function desiredNodes(
  currentNodes: number,
  nodes: readonly NodeSignals[],
  targets: readonly SignalTarget[],
  tolerance: number,
): { desired: number; signals: SignalAdvice[]; deciding: SignalAdvice | null } {
  const signals = targets.filter((t) => t.target > 0).map((t) => desiredForSignal(currentNodes, nodes, t, tolerance));
  const computed = signals.filter((s) => s.ratio !== null);
  if (computed.length === 0) return { desired: currentNodes, signals, deciding: null };
  let deciding = computed[0]!;
  for (const s of computed) if (s.desired > deciding.desired) deciding = s;
  return { desired: deciding.desired, signals, deciding };
}

/**
 * The HPA's scale-down stabilization: the advice is the highest raw
 * recommendation of the last `windowMs` (scale-ups therefore apply at once,
 * scale-downs only after the window has seen nothing higher).
 */
export class StabilizationWindow {
  private readonly entries: Array<{ at: number; desired: number }> = [];

  constructor(private readonly windowMs: number) {}

  /** Add a raw recommendation; returns the stabilized one. */
  push(desired: number, now: number): number {
    this.entries.push({ at: now, desired });
    while (this.entries.length > 0 && this.entries[0]!.at < now - this.windowMs) this.entries.shift();
    let max = desired;
    for (const e of this.entries) if (e.desired > max) max = e.desired;
    return max;
  }
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(3);
}
