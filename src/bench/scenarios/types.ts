import type { Driver } from '../drivers/types.js';
import type { Activity, ReceiverGroup } from '../messages.js';
import type { LoadPattern } from '../patterns.js';

export type ScenarioName = 'connections' | 'fanout' | 'chat' | 'presence' | 'churn' | 'soak';
export const SCENARIO_NAMES: readonly ScenarioName[] = ['connections', 'fanout', 'chat', 'presence', 'churn', 'soak'];

/** Every size a scenario may read; each scenario documents the ones it uses. */
export interface ScenarioSizes {
  /** connections: how many to open. */
  connections: number;
  /** fanout, soak: subscribers spread evenly over `channels`. */
  subscribers: number;
  channels: number;
  /** chat: rooms × members; every member publishes and receives. */
  rooms: number;
  roomSize: number;
  /** presence: stable members per presence channel who watch the churn. */
  members: number;
  /** presence, churn: how long a churning client stays subscribed. */
  holdMs: number;
  /** soak: connect/subscribe/disconnect cycles per second beside the fan-out. */
  churnRate: number;
}

/** What a scenario needs from the orchestrator. The load pattern drives `rateOf`. */
export interface ScenarioPlan {
  /** Receiving clients, connected before the first phase. */
  groups: ReceiverGroup[];
  /** Channels the orchestrator publishes to, round robin, at the pattern's rate (fanout, soak). */
  publishChannels: string[];
  /** Work the agents do on their own schedule in each phase at the (agent's share of the) pattern. */
  activity?: (pattern: LoadPattern) => Activity;
  /**
   * Deliveries expected in a phase from what was published there, given how many clients each
   * channel had subscribed: publishes from the orchestrator and client events from the agents.
   */
  expected(published: Record<string, number>, clientEvents: Record<string, number>, ops: number, subscribed: Record<string, number>): number;
  /** Which histogram is the run's headline latency. */
  primary: 'delivery' | 'operation' | 'connect';
  /** `connections` applies the load pattern to opening the clients rather than to a phase activity. */
  patternDrivesConnect: boolean;
  /** Presence member events count as deliveries (presence). */
  countsMemberEvents: boolean;
}

export type ScenarioFactory = (sizes: ScenarioSizes, driver: Driver) => ScenarioPlan;

/** Split `total` clients evenly over named channels. */
export function spread(total: number, channels: string[], firstIndex = 0): ReceiverGroup[] {
  const groups: ReceiverGroup[] = [];
  let index = firstIndex;
  channels.forEach((channel, i) => {
    const count = Math.floor(total / channels.length) + (i < total % channels.length ? 1 : 0);
    if (count > 0) groups.push({ channel, count, firstIndex: index });
    index += count;
  });
  return groups;
}

/** Σ published[ch] × receivers(ch): each publish reaches everyone subscribed to its channel. */
export function fanoutExpected(published: Record<string, number>, subscribed: Record<string, number>, excludeSender = 0): number {
  let total = 0;
  for (const [channel, count] of Object.entries(published)) total += count * Math.max(0, (subscribed[channel] ?? 0) - excludeSender);
  return total;
}

export const names = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
