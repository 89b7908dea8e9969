import type { Logger } from '../util/logger.js';
import { supervisorMetrics } from '../metrics/supervisor.js';

type EventKind = 'scale-up' | 'scale-down' | 'crash' | 'restart';
type EventCause = 'advice' | 'min-nodes' | 'max-nodes' | 'crash' | 'start-failed';

/** One entry of `GET /supervisor`'s event list. */
export interface SupervisorEvent {
  at: string;
  event: EventKind;
  cause: EventCause;
  /** Nodes running (not draining) after the event. */
  nodes: number;
  slot: number;
  reason: string;
}

const KEPT = 100;

/** Every scaling step and restart: a log line, a counter by event and cause, and the recent list. */
export class EventLog {
  readonly recent: SupervisorEvent[] = [];

  constructor(private readonly logger: Logger) {}

  record(event: Omit<SupervisorEvent, 'at'>): void {
    const entry = { at: new Date().toISOString(), ...event };
    this.recent.push(entry);
    if (this.recent.length > KEPT) this.recent.shift();
    supervisorMetrics.events.inc({ event: event.event, cause: event.cause });
    const level = event.event === 'crash' ? 'warn' : 'info';
    this.logger[level]({ event: event.event, cause: event.cause, nodes: event.nodes, slot: event.slot, reason: event.reason }, `supervisor ${event.event}`);
  }
}
