import { LRUCache } from 'lru-cache';
import { historyMetrics } from '../metrics/index.js';
import { newEpoch } from './epoch.js';
import { withPosition } from './frames.js';
import type { HistoryRule } from './rules.js';
import type { HistoryRead, HistorySink, HistoryStore, ReadRange, StoredEvent } from './store.js';

// Resolved once: a label lookup per publish adds up.
const appendedInMemory = historyMetrics.appends.labels({ store: 'memory', outcome: 'ok' });

/** One channel's stream: a ring of its last `size` events. */
class Stream {
  readonly epoch = newEpoch();
  offset = 0;
  private ring: StoredEvent[] = [];
  /** Index in `ring` of the oldest event once the ring is full. */
  private head = 0;

  append(event: StoredEvent, size: number): void {
    this.offset = event.offset;
    if (this.ring.length < size) {
      this.ring.push(event);
      return;
    }
    if (this.ring.length > size) {
      // The rule shrank (a config change): keep the newest `size`.
      this.ring = this.ordered().slice(-size);
      this.head = 0;
    }
    this.ring[this.head] = event;
    this.head = (this.head + 1) % size;
  }

  /** Kept events, oldest first. */
  ordered(): StoredEvent[] {
    return this.head === 0 ? this.ring : [...this.ring.slice(this.head), ...this.ring.slice(0, this.head)];
  }
}

export interface MemoryStoreOptions {
  /** Channels kept; the least recently used lose their stream (and epoch) first. */
  maxChannels: number;
  /** How long an idle stream keeps its epoch and offset. */
  metaTtlMs: number;
}

/**
 * History in this process: offsets assigned synchronously, so an event's
 * append and its local delivery happen in the same turn and a subscriber's
 * replay can never race a publish. For a node alone only (config refuses it
 * in a cluster, where the offsets need one authority).
 */
export class MemoryHistoryStore implements HistoryStore {
  readonly kind = 'memory' as const;
  private readonly streams: LRUCache<string, Stream>;

  constructor(
    private readonly sink: HistorySink,
    options: MemoryStoreOptions,
  ) {
    this.streams = new LRUCache<string, Stream>({ max: options.maxChannels, ttl: options.metaTtlMs, updateAgeOnGet: true, ttlAutopurge: false });
  }

  private stream(appId: string, channel: string): Stream {
    const key = `${appId}\n${channel}`;
    let stream = this.streams.get(key);
    if (stream === undefined) this.streams.set(key, (stream = new Stream()));
    return stream;
  }

  publish(appId: string, channel: string, rule: HistoryRule, json: string, excludeSocketId: string | undefined): void {
    const stream = this.stream(appId, channel);
    const offset = stream.offset + 1;
    const framed = withPosition(json, offset, stream.epoch);
    stream.append({ offset, json: framed, timeMs: Date.now() }, rule.size);
    appendedInMemory.inc();
    this.sink(appId, channel, offset, framed, excludeSocketId);
  }

  read(appId: string, channel: string, rule: HistoryRule, range: ReadRange): HistoryRead {
    const stream = this.stream(appId, channel);
    const position = { epoch: stream.epoch, offset: stream.offset };
    if (range.limit === 0 || range.since >= stream.offset) return { position, events: [] };
    const oldest = Date.now() - rule.ttlMs;
    const kept = stream.ordered().filter((e) => e.offset > range.since && e.timeMs >= oldest);
    const events = range.direction === 'forward' ? kept.slice(0, range.limit) : kept.slice(-range.limit).reverse();
    return { position, events };
  }

  watch(): null {
    return null;
  }

  unwatch(): void {}

  async close(): Promise<void> {
    this.streams.clear();
  }
}
