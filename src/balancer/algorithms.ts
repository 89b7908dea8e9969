import type { AlgorithmName } from './config.js';

/** What an algorithm sees of a backend: pure data, so the algorithms are pure and unit-testable. */
export interface Target {
  readonly id: string;
  /** Configured weight times the slow-start factor (> 0). */
  readonly weight: number;
  /** Open WebSockets (plus in-flight HTTP requests) from this balancer. */
  readonly active: number;
  /** The node's event-loop utilization, 0..1 (0 when unknown). */
  readonly elu: number;
  /** EWMA of connect and health-check latency, ms (0 when unknown). */
  readonly latencyMs: number;
}

export interface PickContext {
  /** The consistent-hash key; other algorithms ignore it. */
  readonly key?: string | undefined;
}

/** Chooses one of the eligible targets (never an empty list). */
export interface Algorithm {
  readonly name: AlgorithmName;
  pick(targets: readonly Target[], context: PickContext): Target;
}

export type Random = () => number;

/** Round-robin over whatever is eligible now; a ramping (slow-start) target is skipped with the probability it is not yet at full weight. */
class RoundRobin implements Algorithm {
  readonly name = 'round-robin' as const;
  private next = 0;
  constructor(private readonly random: Random = Math.random) {}
  pick(targets: readonly Target[]): Target {
    const full = Math.max(...targets.map((t) => t.weight));
    for (let tries = 0; tries < targets.length * 4; tries++) {
      const t = targets[this.next++ % targets.length] as Target;
      if (t.weight >= full || this.random() < t.weight / full) return t;
    }
    return targets[this.next++ % targets.length] as Target;
  }
}

/**
 * nginx's smooth weighted round-robin: every pick adds each weight to its
 * current value, takes the largest and subtracts the total from it. 5,1,1
 * gives a a b a c a a: the heavy backend's turns are spread, not bunched.
 */
export class SmoothWeightedRoundRobin implements Algorithm {
  readonly name = 'weighted-round-robin' as const;
  private readonly current = new Map<string, number>();
  pick(targets: readonly Target[]): Target {
    let total = 0;
    let best: Target | undefined;
    let bestValue = -Infinity;
    for (const t of targets) {
      const value = (this.current.get(t.id) ?? 0) + t.weight;
      this.current.set(t.id, value);
      total += t.weight;
      if (value > bestValue) {
        bestValue = value;
        best = t;
      }
    }
    const chosen = best as Target;
    this.current.set(chosen.id, bestValue - total);
    // Forget backends that left, so the map does not grow with churn.
    if (this.current.size > targets.length * 2) {
      const ids = new Set(targets.map((t) => t.id));
      for (const id of this.current.keys()) if (!ids.has(id)) this.current.delete(id);
    }
    return chosen;
  }
}

/** Fewest open connections per unit of weight; ties go round-robin so equal backends fill evenly. */
class LeastConnections implements Algorithm {
  readonly name = 'least-connections' as const;
  private tie = 0;
  pick(targets: readonly Target[]): Target {
    return lowest(targets, (t) => (t.active + 1) / t.weight, this.tie++);
  }
}

/** Weighted random. */
class WeightedRandom implements Algorithm {
  readonly name = 'random' as const;
  constructor(private readonly random: Random = Math.random) {}
  pick(targets: readonly Target[]): Target {
    return weightedChoice(targets, this.random);
  }
}

function weightedChoice(targets: readonly Target[], random: Random, exclude?: Target): Target {
  let total = 0;
  for (const t of targets) if (t !== exclude) total += t.weight;
  let r = random() * total;
  for (const t of targets) {
    if (t === exclude) continue;
    r -= t.weight;
    if (r < 0) return t;
  }
  return (targets.find((t) => t !== exclude) ?? targets[0]) as Target;
}

/** The load score P2C compares: connections per weight, scaled by how busy the node says its event loop is. */
function loadScore(t: Target): number {
  return ((t.active + 1) / t.weight) * (1 + t.elu);
}

/** Power of two choices: two distinct weighted-random targets, the lower load score wins. */
class PowerOfTwoChoices implements Algorithm {
  readonly name = 'p2c' as const;
  constructor(private readonly random: Random = Math.random) {}
  pick(targets: readonly Target[]): Target {
    if (targets.length === 1) return targets[0] as Target;
    const a = weightedChoice(targets, this.random);
    const b = weightedChoice(targets, this.random, a);
    const sa = loadScore(a);
    const sb = loadScore(b);
    if (sa === sb) return this.random() < 0.5 ? a : b;
    return sa < sb ? a : b;
  }
}

/**
 * Least response time: EWMA latency times (connections + 1) per weight, so
 * the fastest backend is preferred without taking every new connection
 * (nginx's least_time combines latency with connections for the same reason).
 */
class LeastResponseTime implements Algorithm {
  readonly name = 'least-response-time' as const;
  private tie = 0;
  pick(targets: readonly Target[]): Target {
    return lowest(targets, (t) => (Math.max(t.latencyMs, 0.01) * (t.active + 1)) / t.weight, this.tie++);
  }
}

/** The target with the lowest score; equal scores (within rounding) take turns by `turn`, so equal backends fill evenly. */
function lowest(targets: readonly Target[], score: (t: Target) => number, turn: number): Target {
  let best: Target[] = [];
  let bestScore = Infinity;
  for (const t of targets) {
    const s = score(t);
    const tolerance = 1e-9 * Math.max(1, Math.abs(bestScore === Infinity ? s : bestScore));
    if (s < bestScore - tolerance) {
      bestScore = s;
      best = [t];
    } else if (Math.abs(s - bestScore) <= tolerance) best.push(t);
  }
  return best[turn % best.length] as Target;
}

/** 32-bit FNV-1a with a murmur3 finalizer, so nearby strings land far apart on the ring. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const POINTS_PER_WEIGHT = 100;

/**
 * Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam
 * 2016; HAProxy's hash-balance-factor): a key goes to the first backend
 * clockwise from its hash whose load is under `factor` times its share of
 * (total + 1). A key keeps its backend while that backend has room, and
 * adding an unrelated backend moves only the keys the new points capture.
 */
export class BoundedConsistentHash implements Algorithm {
  readonly name = 'consistent-hash' as const;
  private ringKey = '';
  private points = new Uint32Array(0);
  private owners: string[] = [];

  constructor(private readonly factor = 1.25) {}

  pick(targets: readonly Target[], context: PickContext): Target {
    this.rebuild(targets);
    const byId = new Map(targets.map((t) => [t.id, t]));
    let total = 1;
    let weights = 0;
    for (const t of targets) {
      total += t.active;
      weights += t.weight;
    }
    const start = this.lowerBound(hash32(context.key ?? ''));
    const n = this.points.length;
    for (let i = 0; i < n; i++) {
      const t = byId.get(this.owners[(start + i) % n] as string) as Target;
      const bound = Math.ceil((this.factor * total * t.weight) / weights);
      if (t.active + 1 <= bound) return t;
    }
    // Unreachable: the bound's sum over targets exceeds total; kept for safety.
    return byId.get(this.owners[start % n] as string) as Target;
  }

  /** The ring is rebuilt only when the set of ids or their base weights change. */
  private rebuild(targets: readonly Target[]): void {
    const key = targets
      .map((t) => `${t.id}*${Math.ceil(t.weight)}`)
      .sort()
      .join(',');
    if (key === this.ringKey) return;
    this.ringKey = key;
    const entries: Array<[number, string]> = [];
    for (const t of targets) {
      const count = POINTS_PER_WEIGHT * Math.max(1, Math.ceil(t.weight));
      for (let i = 0; i < count; i++) entries.push([hash32(`${t.id}#${i}`), t.id]);
    }
    entries.sort((a, b) => a[0] - b[0]);
    this.points = Uint32Array.from(entries.map((e) => e[0]));
    this.owners = entries.map((e) => e[1]);
  }

  private lowerBound(value: number): number {
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.points[mid] as number) < value) lo = mid + 1;
      else hi = mid;
    }
    return lo % Math.max(1, this.points.length);
  }
}

export function createAlgorithm(name: AlgorithmName, options: { hashBalanceFactor?: number; random?: Random } = {}): Algorithm {
  const random = options.random ?? Math.random;
  switch (name) {
    case 'round-robin':
      return new RoundRobin(random);
    case 'weighted-round-robin':
      return new SmoothWeightedRoundRobin();
    case 'least-connections':
      return new LeastConnections();
    case 'random':
      return new WeightedRandom(random);
    case 'p2c':
      return new PowerOfTwoChoices(random);
    case 'least-response-time':
      return new LeastResponseTime();
    case 'consistent-hash':
      return new BoundedConsistentHash(options.hashBalanceFactor);
  }
}
