import type { HistoryRule } from './rules.js';

/** Where a channel's stream is: its epoch and the offset of its last event (0: none yet). */
export interface StreamPosition {
  readonly epoch: string;
  readonly offset: number;
}

/** One kept event: its offset, the frame JSON as delivered (with offset and epoch), and when it was appended. */
export interface StoredEvent {
  readonly offset: number;
  readonly json: string;
  readonly timeMs: number;
}

export interface ReadRange {
  /** Only events with a higher offset. */
  readonly since: number;
  /** At most this many events (0: the position only). */
  readonly limit: number;
  readonly direction: 'forward' | 'backward';
}

/**
 * The position and the events of a range, read at one instant. Events are
 * those still kept (within size and TTL), forward: oldest first.
 */
export interface HistoryRead {
  readonly position: StreamPosition;
  readonly events: readonly StoredEvent[];
}

/** Receives every event of a watched channel, in offset order (the store's delivery to this node). */
export type HistorySink = (appId: string, channel: string, offset: number, json: string, excludeSocketId: string | undefined) => void;

/**
 * A history store: assigns each event of a channel its offset, keeps the
 * last `size` events for `ttl`, and delivers them to the node (the sink).
 *
 * The memory store does all of it synchronously, on this node only. The
 * Redis store assigns, keeps and publishes in one script on Redis, so that
 * every node (the publisher included) gets the channel's events in offset
 * order; its reads and appends are asynchronous.
 */
export interface HistoryStore {
  readonly kind: 'memory' | 'redis';
  /** Append an event (`json`: its frame without offset/epoch) and deliver it. Resolves (redis) or returns (memory) once appended; a failure means the event was not published. */
  publish(appId: string, channel: string, rule: HistoryRule, json: string, excludeSocketId: string | undefined): Promise<void> | void;
  /** Read the position and a range. */
  read(appId: string, channel: string, rule: HistoryRule, range: ReadRange): HistoryRead | Promise<HistoryRead>;
  /** Make sure this node receives the channel's events live; null when it does already (always, for memory). */
  watch(appId: string, channel: string): Promise<void> | null;
  /** This node has no subscriber of the channel any more. */
  unwatch(appId: string, channel: string): void;
  close(): Promise<void>;
}
