/** A signal's level: under its warn threshold, past it, or past its critical threshold. */
export type Level = 'ok' | 'warn' | 'critical';

const RANK: Record<Level, number> = { ok: 0, warn: 1, critical: 2 };

export interface ThresholdSpec {
  readonly warn: number;
  readonly critical: number;
  /** Fraction under `warn` the value must fall to clear a warning. */
  readonly hysteresis: number;
  /** How long the value must point at a new level before the level changes. */
  readonly minDurationMs: number;
}

export interface LevelChange {
  readonly from: Level;
  readonly to: Level;
  readonly value: number;
  /** The threshold the change crossed (the warn threshold for clearings). */
  readonly threshold: number;
}

/**
 * One signal's level with hysteresis and a minimum duration, so that a value
 * hovering at a threshold does not flap:
 * - critical is entered at `critical` and left only under `warn` (the band
 *   between them is the hysteresis of critical: admission stays closed in it);
 * - warn is entered at `warn` and cleared under `warn × (1 − hysteresis)`;
 * - every change waits until the value has pointed at the new level (or
 *   beyond it, in the same direction) for `minDurationMs`.
 */
export class SignalThreshold {
  private current: Level = 'ok';
  private pending: { level: Level; since: number } | null = null;

  constructor(readonly spec: ThresholdSpec) {}

  get level(): Level {
    return this.current;
  }

  /** The level the value points at, given the present level (hysteresis), before any duration. */
  target(value: number): Level {
    const { warn, critical, hysteresis } = this.spec;
    if (!Number.isFinite(value)) return 'ok';
    if (value >= critical) return 'critical';
    if (this.current === 'critical' && value >= warn) return 'critical';
    if (value >= warn) return 'warn';
    if (this.current !== 'ok' && value >= warn * (1 - hysteresis)) return 'warn';
    return 'ok';
  }

  /** Feed one sample; returns the change when the level changes. */
  update(value: number, now: number): LevelChange | null {
    const target = this.target(value);
    if (target === this.current) {
      this.pending = null;
      return null;
    }
    const up = RANK[target] > RANK[this.current];
    const pendingSameWay = this.pending !== null && RANK[this.pending.level] > RANK[this.current] === up;
    if (!pendingSameWay) this.pending = { level: target, since: now };
    else this.pending = { level: target, since: this.pending!.since };
    if (now - this.pending.since < this.spec.minDurationMs) return null;
    const from = this.current;
    this.current = target;
    this.pending = null;
    const threshold = target === 'critical' ? this.spec.critical : this.spec.warn;
    return { from, to: target, value, threshold };
  }
}
