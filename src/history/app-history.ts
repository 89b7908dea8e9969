import { historyMetrics } from '../metrics/index.js';
import { classifyChannel } from '../protocol/channels.js';
import { broadcast, send } from '../core/outbox.js';
import type { AppState } from '../core/app-state.js';
import type { Channel } from '../core/channel.js';
import type { Connection } from '../core/connection.js';
import { beforeBroadcast, deliverToChannel } from '../core/delivery.js';
import type { Logger } from '../util/logger.js';
import { succeededWithPosition } from './frames.js';
import { planRecovery, recoveryLimit, type RecoverRequest } from './recovery.js';
import type { HistoryRule } from './rules.js';
import { HistoryRules } from './rules.js';
import type { HistoryRead, HistoryStore, ReadRange, StreamPosition } from './store.js';

/**
 * A subscriber kept out of the channel's live broadcast. While its read is
 * out (`seam` null), its live events are buffered: sent after the replay,
 * minus those the replay had. Once welcomed, live events may still be on
 * their way for offsets the replay covered (pub/sub and the read travel on
 * different connections): it stays held, dropping those, until an event
 * past the seam (or of another epoch) arrives.
 */
interface Hold {
  readonly buffer: Array<{ offset: number; json: string }>;
  seam: { offset: number; epochTail: string } | null;
}

/**
 * One app's channel history on this node: which channels have it, their
 * appends, and the seam between a subscriber's replay and its live events.
 *
 * The seam: a subscriber is in the channel (so live events reach this node
 * for it) before its position is read; until the read is back its live
 * events are held, then it gets subscription_succeeded with the position,
 * the replay, and the held events with a higher offset than the position.
 * With the memory store all of that happens in one turn and nothing is held.
 */
export class AppHistory {
  /** Channel name → subscribers whose welcome waits for a read. */
  private readonly holds = new Map<string, Map<Connection, Hold>>();

  constructor(
    private readonly app: AppState,
    readonly rules: HistoryRules,
    private readonly store: HistoryStore,
    private readonly log: Logger,
  ) {}

  /** The channel's rule, or null when it has no history. */
  ruleFor(channel: string): HistoryRule | null {
    return this.rules.match(channel);
  }

  /**
   * Append an event of a history channel (`json`: its frame without
   * offset/epoch); its delivery, here and on every node, comes from the
   * store in offset order. A promise (Redis) rejects when the event could
   * not be appended, and then it was not published either.
   */
  append(channel: string, rule: HistoryRule, json: string, excludeSocketId: string | undefined): void | Promise<void> {
    const done = this.store.publish(this.app.config.id, channel, rule, json, excludeSocketId);
    if (done === undefined) return;
    return done.then(
      () => {
        historyMetrics.appends.inc({ store: this.store.kind, outcome: 'ok' });
      },
      (err: unknown) => {
        historyMetrics.appends.inc({ store: this.store.kind, outcome: 'failed' });
        this.log.warn({ err, appId: this.app.config.id, channel }, 'history store did not take an event: it was not published');
        throw err;
      },
    );
  }

  /** An event of a watched channel, from the store, in offset order. */
  deliver(channelName: string, offset: number, json: string, excludeSocketId: string | undefined): void {
    const held = this.holds.get(channelName);
    const channel = this.app.channels.get(channelName);
    const isCache = channel?.kind.cache ?? classifyChannel(channelName)?.cache ?? false;
    if (held === undefined) {
      deliverToChannel(this.app, channelName, json, isCache, excludeSocketId);
      return;
    }
    for (const [conn, hold] of held) {
      if (hold.seam === null) {
        if (conn.id !== excludeSocketId) hold.buffer.push({ offset, json });
      } else if (offset > hold.seam.offset || !json.endsWith(hold.seam.epochTail)) {
        // Past the seam: from this event on it is an ordinary subscriber.
        this.unhold(channelName, held, conn);
      }
    }
    beforeBroadcast(this.app, channelName, json, isCache);
    if (channel !== undefined) broadcast(this.app, json, notHeld(channel.subscribers, held), excludeSocketId);
  }

  /** Read a range (the HTTP API). */
  async read(channel: string, rule: HistoryRule, range: ReadRange): Promise<HistoryRead> {
    return this.timedRead(channel, rule, range);
  }

  /**
   * Welcome a subscriber of a history channel: subscription_succeeded (the
   * Pusher frame `succeeded`, plus the position and `recovered`), the
   * replay, then `after` (the cache channel's last event, when it is one).
   */
  welcome(conn: Connection, channel: Channel, rule: HistoryRule, succeeded: string, recover: RecoverRequest, after: () => void): void {
    const appId = this.app.config.id;
    const range: ReadRange =
      recover !== undefined && recover !== 'malformed'
        ? { since: recover.offset, limit: recoveryLimit(rule), direction: 'forward' }
        : { since: 0, limit: 0, direction: 'forward' };
    const live = this.store.watch(appId, channel.name);
    let pending: Promise<HistoryRead>;
    if (live === null) {
      const read = this.timedRead(channel.name, rule, range);
      if (!(read instanceof Promise)) {
        this.finish(conn, channel, rule, succeeded, recover, read, null, after);
        return;
      }
      pending = read;
    } else {
      pending = live.then(() => this.timedRead(channel.name, rule, range));
    }
    // Held from this turn on: live events come back from the store no sooner than the next one.
    let held = this.holds.get(channel.name);
    if (held === undefined) this.holds.set(channel.name, (held = new Map()));
    const hold: Hold = { buffer: [], seam: null };
    held.set(conn, hold);
    // A newer subscribe of the same socket owns the hold once it has replaced this one.
    const current = (): boolean => this.holds.get(channel.name)?.get(conn) === hold;
    pending.then(
      (read) => {
        if (current()) this.finish(conn, channel, rule, succeeded, recover, read, hold, after);
      },
      (err: unknown) => {
        if (!current()) return;
        const buffer = hold.buffer;
        this.unhold(channel.name, this.holds.get(channel.name)!, conn);
        this.log.warn({ err, appId, channel: channel.name }, 'history store unreachable while welcoming a subscriber: no position, no recovery');
        if (recover !== undefined) historyMetrics.recoveries.inc({ outcome: 'failed' });
        if (!this.stillSubscribed(conn, channel)) return;
        send(conn, succeededWithPosition(succeeded, null, recover === undefined ? undefined : false));
        for (const e of buffer) send(conn, e.json);
        after();
      },
    );
  }

  /** The channel's last local subscriber left. */
  vacated(channel: string): void {
    if (this.rules.match(channel) === null) return;
    this.holds.delete(channel);
    this.store.unwatch(this.app.config.id, channel);
  }

  private unhold(channelName: string, held: Map<Connection, Hold>, conn: Connection): void {
    held.delete(conn);
    if (held.size === 0 && this.holds.get(channelName) === held) this.holds.delete(channelName);
  }

  /** `hold`: null when the read was synchronous (memory store): nothing was held. */
  private finish(
    conn: Connection,
    channel: Channel,
    rule: HistoryRule,
    succeeded: string,
    recover: RecoverRequest,
    read: HistoryRead,
    hold: Hold | null,
    after: () => void,
  ): void {
    const held = this.holds.get(channel.name);
    if (!this.stillSubscribed(conn, channel)) {
      if (hold !== null && held !== undefined) this.unhold(channel.name, held, conn);
      return;
    }
    const buffer = hold?.buffer ?? [];
    const position: StreamPosition = read.position;
    let recovered: boolean | undefined;
    let replay: HistoryRead['events'] = [];
    if (recover !== undefined) {
      const plan = planRecovery(recover, read, rule);
      historyMetrics.recoveries.inc({ outcome: plan.outcome });
      recovered = plan.outcome === 'recovered';
      replay = plan.events;
    }
    send(conn, succeededWithPosition(succeeded, position, recovered));
    for (const e of replay) send(conn, e.json);
    if (replay.length > 0) historyMetrics.replayed.inc(replay.length);
    // Held live events the position already covers were sent by the replay (or precede the seam).
    for (const e of buffer) if (e.offset > position.offset) send(conn, e.json);
    after();
    if (hold === null || held === undefined) return;
    // Live delivery has passed the seam already: an ordinary subscriber now. Else drop what the replay covered until it has.
    if (position.offset === 0 || (buffer.length > 0 && buffer[buffer.length - 1]!.offset >= position.offset)) this.unhold(channel.name, held, conn);
    else hold.seam = { offset: position.offset, epochTail: `"epoch":"${position.epoch}"}` };
  }

  private stillSubscribed(conn: Connection, channel: Channel): boolean {
    return conn.open && channel.hasSubscriber(conn) && this.app.channels.get(channel.name) === channel;
  }

  private timedRead(channel: string, rule: HistoryRule, range: ReadRange): HistoryRead | Promise<HistoryRead> {
    const startedAt = performance.now();
    const read = this.store.read(this.app.config.id, channel, rule, range);
    const observe = (): void => {
      historyMetrics.reads.observe({ store: this.store.kind }, (performance.now() - startedAt) / 1000);
    };
    if (!(read instanceof Promise)) {
      observe();
      return read;
    }
    return read.finally(observe);
  }
}

/** A channel's subscribers without those whose welcome is still held (only while some are). */
function* notHeld(subscribers: Iterable<Connection>, held: ReadonlyMap<Connection, Hold>): Generator<Connection> {
  for (const conn of subscribers) if (!held.has(conn)) yield conn;
}

export { HistoryRules };
