/**
 * One backend's health as an explicit state machine, with time passed in so
 * that it is pure and testable:
 *
 *   unknown ─rise good checks─▶ up ─fall bad checks─▶ down ─rise─▶ up
 *        any state ─/ready says draining─▶ draining ─rise good─▶ up
 *
 * Passive ejection (connect failures / resets) lies over it: an ejected
 * backend keeps its health state but gets nothing until the ejection ends.
 */
export type HealthStateName = 'unknown' | 'up' | 'down' | 'draining';

export interface HealthSettings {
  rise: number;
  fall: number;
  /** Consecutive connect failures that eject. */
  ejectAfterFailures: number;
  ejectBaseMs: number;
  ejectMaxMs: number;
  /** Ms over which a newly up backend ramps to its full weight; 0 = off. */
  slowStartMs: number;
}

export interface Transition {
  readonly at: number;
  readonly from: HealthStateName | 'ejected';
  readonly to: HealthStateName | 'ejected';
  readonly reason: string;
}

/** The smallest share a ramping backend gets, so that it is tried at all. */
const SLOW_START_FLOOR = 0.05;
const HISTORY = 20;

export class BackendHealth {
  state: HealthStateName = 'unknown';
  private good = 0;
  private bad = 0;
  private failures = 0;
  private ejections = 0;
  private ejectedUntil = 0;
  private lastEjectionEnd = -Infinity;
  private rampFrom: number | null = null;
  readonly history: Transition[] = [];
  /** Called on every change of state (ejections included). */
  onTransition: ((t: Transition) => void) | null = null;

  constructor(
    private readonly settings: HealthSettings,
    /** Whether this backend's first `up` should ramp (false for backends present when the balancer started). */
    private rampOnFirstUp: boolean,
  ) {}

  /** A check answered: ok (200), draining (503 saying so), or failed (anything else, timeout). */
  checked(result: 'ok' | 'draining' | 'failed', now: number, reason: string = result): void {
    if (result === 'draining') {
      this.good = 0;
      this.bad = 0;
      if (this.state !== 'draining') this.set('draining', now, reason);
      return;
    }
    if (result === 'ok') {
      this.bad = 0;
      if (this.state === 'up') return;
      if (++this.good >= this.settings.rise) {
        const ramp = this.state !== 'unknown' || this.rampOnFirstUp;
        this.good = 0;
        this.set('up', now, reason);
        if (ramp && this.settings.slowStartMs > 0) this.rampFrom = now;
      }
      return;
    }
    this.good = 0;
    if (this.state === 'down') return;
    if (++this.bad >= this.settings.fall) {
      this.bad = 0;
      this.rampFrom = null;
      this.set('down', now, reason);
    }
  }

  /** Whether a check is under way to change the state (check faster then). */
  get changing(): boolean {
    return this.good > 0 || this.bad > 0;
  }

  /** A connection to the backend was made: the run of failures is over. */
  connectSucceeded(): void {
    this.failures = 0;
  }

  /**
   * A connect failed or was reset. Returns true when this ejected the
   * backend; `mayEject` says whether the ejected share allows one more.
   */
  connectFailed(now: number, mayEject: boolean): boolean {
    this.failures++;
    if (this.failures < this.settings.ejectAfterFailures || this.isEjected(now) || !mayEject) return false;
    // A backend that stayed in for a whole max-ejection period starts over at the base time.
    if (now - this.lastEjectionEnd > this.settings.ejectMaxMs) this.ejections = 0;
    this.ejections++;
    const duration = Math.min(this.settings.ejectMaxMs, this.settings.ejectBaseMs * this.ejections);
    this.ejectedUntil = now + duration;
    this.lastEjectionEnd = this.ejectedUntil;
    this.failures = 0;
    this.record({ at: now, from: this.state, to: 'ejected', reason: `${this.settings.ejectAfterFailures} connect failures; ${Math.round(duration)} ms` });
    return true;
  }

  isEjected(now: number): boolean {
    if (this.ejectedUntil === 0) return false;
    if (now < this.ejectedUntil) return true;
    // The ejection ended: ramp again, as for a backend that just came back.
    this.ejectedUntil = 0;
    if (this.settings.slowStartMs > 0) this.rampFrom = now;
    this.record({ at: now, from: 'ejected', to: this.state, reason: 'ejection over' });
    return false;
  }

  /** Ms of the current ejection left (0 when not ejected). */
  ejectionLeft(now: number): number {
    return this.isEjected(now) ? this.ejectedUntil - now : 0;
  }

  get consecutiveEjections(): number {
    return this.ejections;
  }

  /** The share of its weight the backend gets now: ramps linearly over slow start. */
  weightFactor(now: number): number {
    if (this.rampFrom === null) return 1;
    const share = (now - this.rampFrom) / this.settings.slowStartMs;
    if (share >= 1) {
      this.rampFrom = null;
      return 1;
    }
    return Math.max(SLOW_START_FLOOR, share);
  }

  /** Whether slow start is still ramping. */
  ramping(now: number): boolean {
    return this.weightFactor(now) < 1;
  }

  private set(to: HealthStateName, now: number, reason: string): void {
    const from = this.state;
    this.state = to;
    this.record({ at: now, from, to, reason });
  }

  private record(t: Transition): void {
    this.history.push(t);
    if (this.history.length > HISTORY) this.history.shift();
    this.onTransition?.(t);
  }
}
