import { randomBytes } from 'node:crypto';
import type { Level, LevelChange } from './thresholds.js';

/** The signals the monitor holds thresholds for. */
export type SignalName = 'connections' | 'eventLoopDelay' | 'memory' | 'eventLoopUtilization' | 'cpu';

/** One alert notice: a signal's level changed on a node. `resolved` is the clearing of the alert. */
export interface AlertNotice {
  /** Unique per notice. */
  id: string;
  /** Shared by an alert's notices from its firing to its clearing. */
  alertId: string;
  node: string;
  signal: SignalName;
  status: 'firing' | 'resolved';
  level: Level;
  previousLevel: Level;
  value: number;
  threshold: number;
  /** ISO time of this change; `since` is when the alert first fired. */
  at: string;
  since: string;
}

/** How many past notices `GET /alerts` lists. */
const RECENT_NOTICES = 200;

/**
 * The alerts of this node: one open alert per signal while it is past its
 * warn threshold (its level rises and falls within it), closed by its
 * clearing. Keeps the recent notices for `GET /alerts`.
 */
export class AlertBook {
  private readonly open = new Map<SignalName, AlertNotice>();
  private readonly recent: AlertNotice[] = [];
  private readonly run = randomBytes(4).toString('hex');
  private seq = 0;

  constructor(private readonly node: string) {}

  /** Record a level change and return its notice. */
  record(signal: SignalName, change: LevelChange, now: number = Date.now()): AlertNotice {
    const at = new Date(now).toISOString();
    const existing = this.open.get(signal);
    const alertId = existing?.alertId ?? `${this.node}/${signal}/${this.run}-${this.seq + 1}`;
    const notice: AlertNotice = {
      id: `${this.run}-${++this.seq}`,
      alertId,
      node: this.node,
      signal,
      status: change.to === 'ok' ? 'resolved' : 'firing',
      level: change.to,
      previousLevel: change.from,
      value: change.value,
      threshold: change.threshold,
      at,
      since: existing?.since ?? at,
    };
    if (change.to === 'ok') this.open.delete(signal);
    else this.open.set(signal, notice);
    this.recent.push(notice);
    if (this.recent.length > RECENT_NOTICES) this.recent.shift();
    return notice;
  }

  /** The alerts firing now, one per signal. */
  active(): AlertNotice[] {
    return [...this.open.values()];
  }

  /** Past notices, newest last. */
  history(): AlertNotice[] {
    return [...this.recent];
  }
}
