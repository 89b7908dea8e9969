import type { HistoryRule } from './rules.js';
import type { HistoryRead, StoredEvent } from './store.js';
import { isEpoch } from './frames.js';

/** A subscriber's `recover`: the last offset it saw and the epoch it saw it in. */
interface RecoverPoint {
  readonly offset: number;
  readonly epoch: string;
}

/** `recover` as parsed from pusher:subscribe: absent, a point, or malformed (still subscribed, never recovered). */
export type RecoverRequest = RecoverPoint | 'malformed' | undefined;

export type RecoveryOutcome = 'recovered' | 'epoch_mismatch' | 'gap_lost' | 'malformed';

/** Read `data.recover` of a subscribe. Never throws: any shape but `{offset: integer ≥ 0, epoch: epoch string}` is 'malformed'. */
export function parseRecover(value: unknown): RecoverRequest {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) return 'malformed';
  const { offset, epoch } = value as { offset?: unknown; epoch?: unknown };
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0 || !isEpoch(epoch)) return 'malformed';
  return { offset, epoch };
}

/** How far back to read for a recovery: one more than the rule keeps, so a gap beyond `size` shows. */
export function recoveryLimit(rule: HistoryRule): number {
  return rule.size + 1;
}

/**
 * All or nothing: the missed events `recover.offset + 1 … position.offset`
 * when every one of them is still kept in the same epoch, else nothing.
 */
export function planRecovery(recover: RecoverRequest, read: HistoryRead, rule: HistoryRule): { outcome: RecoveryOutcome; events: readonly StoredEvent[] } {
  if (recover === undefined || recover === 'malformed') return { outcome: 'malformed', events: [] };
  const { position, events } = read;
  if (recover.epoch !== position.epoch) return { outcome: 'epoch_mismatch', events: [] };
  // Ahead of the stream: nothing this epoch ever sent (a forged or corrupted offset).
  if (recover.offset > position.offset) return { outcome: 'malformed', events: [] };
  const missed = position.offset - recover.offset;
  if (missed === 0) return { outcome: 'recovered', events: [] };
  if (missed > rule.size || events.length !== missed || events[0]!.offset !== recover.offset + 1 || events[missed - 1]!.offset !== position.offset) {
    return { outcome: 'gap_lost', events: [] };
  }
  return { outcome: 'recovered', events };
}
