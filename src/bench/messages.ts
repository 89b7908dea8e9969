import type { DriverName, TargetSpec } from './drivers/types.js';
import type { LoadPattern } from './patterns.js';

/** A group of identical receiving clients: each connects and subscribes to `channel`. */
export interface ReceiverGroup {
  channel: string;
  count: number;
  /** Global index of the group's first client: unique across agents, used as its publisher id. */
  firstIndex: number;
}

/** What one agent (a worker process, or the parent itself) connects and how fast. */
export interface AgentSetup {
  driver: DriverName;
  target: TargetSpec;
  agentIndex: number;
  groups: ReceiverGroup[];
  /** Opening schedule of this agent's share of the clients; opening stops once all are open. */
  connectPattern: LoadPattern;
  connectConcurrency: number;
  timeoutMs: number;
  /** Loopback source addresses to spread clients over (empty: let the kernel choose). */
  sourceAddresses: string[];
  /** Presence identity prefix: client i joins as `${userPrefix}${i}`. */
  userPrefix: string;
  tickMs: number;
}

/** Work an agent does on its own schedule during a phase, besides receiving. */
export type Activity =
  | { kind: 'client-events'; pattern: LoadPattern; payloadBytes: number }
  | { kind: 'churn'; pattern: LoadPattern; channels: string[]; holdMs: number };

export type AgentCommand =
  | { type: 'setup'; setup: AgentSetup }
  | { type: 'phase'; phase: number; startMicros: number; durationMs: number; activity?: Activity }
  | { type: 'report'; phase: number }
  | { type: 'stop' };

/** Counts keyed by close code, errno or reason name. */
export type CodeCounts = Record<string, number>;

export interface ReadyEvent {
  type: 'ready';
  agentIndex: number;
  open: number;
  failed: number;
  errorsByCode: CodeCounts;
  subscribedByChannel: Record<string, number>;
  /** Connect + subscribe time of every client, from its scheduled start (µs, encoded HDR). */
  connectHistogram: string;
  connectWallMs: number;
  /** The first failure's message, so a wrong URL reads as one clear line. */
  firstError?: string;
}

export interface TickEvent {
  type: 'tick';
  agentIndex: number;
  atMicros: number;
  intervalMicros: number;
  cpuMicros: number;
  /** Deliveries received in the interval and their latency (µs, encoded HDR; '' when none). */
  deliveries: number;
  histogram: string;
  /** Running totals of the current phase, for the drain wait. */
  phase: number;
  phaseUnique: number;
  phasePublished: number;
  phaseMemberEvents: number;
  ops: number;
  open: number;
  closes: CodeCounts;
}

export interface PhaseReportEvent {
  type: 'report';
  agentIndex: number;
  phase: number;
  unique: number;
  duplicates: number;
  outOfOrder: number;
  latency: string;
  /** Client events this agent sent (chat), in all and per channel. */
  published: number;
  publishedByChannel: Record<string, number>;
  /** Churn/presence operations started, failed by code, and their latency from schedule. */
  ops: number;
  opErrors: CodeCounts;
  opLatency: string;
  /** Presence member_added/member_removed events seen by receivers. */
  memberEvents: number;
  scheduleLagMaxMs: number;
}

export type AgentEvent = ReadyEvent | TickEvent | PhaseReportEvent | { type: 'fatal'; agentIndex: number; message: string };

/** Add `more` into `into`, key by key. */
export function addCounts(into: CodeCounts, more: CodeCounts): CodeCounts {
  for (const [code, n] of Object.entries(more)) into[code] = (into[code] ?? 0) + n;
  return into;
}
