import type { WebhookEvent, WebhookSink } from '../webhooks/types.js';
import type { AppMembership, MembershipObserver } from './membership.js';

/** Above this many subscribers a channel's subscription_count webhook goes at most once per SUBSCRIPTION_COUNT_SLOW_MS. */
const SUBSCRIPTION_COUNT_BUSY = 100;
const SUBSCRIPTION_COUNT_SLOW_MS = 5000;
/** Events a non-leader keeps for a leader change, at most. */
const MAX_UNSENT = 50_000;

interface PendingLeave {
  readonly timer: NodeJS.Timeout;
  readonly fire: () => void;
}

export interface AppWebhooksOptions {
  /** Milliseconds channel_vacated and member_removed wait for a return. */
  leaveDelayMs: number;
  /** Whether the app counts subscriptions (subscription_count is sent only then). */
  countsSubscriptions: boolean;
  /**
   * Whether this node sends the transitions' webhooks: true when it is alone
   * or the cluster's leader. Every node of a cluster computes the same
   * transitions from the same replicated membership; only one sends them.
   */
  sends(): boolean;
  /** How long a node that does not send keeps what it computed, in case it becomes the sender. */
  keepUnsentMs: number;
}

/**
 * One app's webhook events: the membership model's transitions, with
 * Pusher's leave delay (a leave followed by a return within it sends
 * neither), plus the events only one node ever sees (client events, cache
 * misses). Hands events to the sink; never does I/O itself.
 */
export class AppWebhooks implements MembershipObserver {
  /** Leaves in their delay: channel (or channel + user) → the timer and what it will do. */
  private readonly vacating = new Map<string, PendingLeave>();
  private readonly leaving = new Map<string, PendingLeave>();
  private readonly counts = new Map<string, { timer: NodeJS.Timeout | null; sentAt: number; sent: number }>();
  /**
   * Events this node computed but did not send (it was not the leader), for
   * a while: if it becomes the leader, those after the old leader was last
   * seen alive are sent (see takeOver).
   */
  private readonly unsent: Array<{ readonly event: WebhookEvent; readonly at: number }> = [];
  /** Cache channels whose emptiness was reported already; cleared when an event is cached again. */
  private readonly missed = new Set<string>();

  constructor(
    private readonly appId: string,
    private readonly membership: AppMembership,
    private readonly sink: WebhookSink,
    private readonly options: AppWebhooksOptions,
  ) {}

  channelOccupied(channel: string): void {
    const pending = this.vacating.get(channel);
    if (pending !== undefined) {
      // Back within the delay: neither the leave nor this join is sent.
      clearTimeout(pending.timer);
      this.vacating.delete(channel);
      return;
    }
    this.send({ name: 'channel_occupied', channel });
  }

  channelVacated(channel: string): void {
    this.counts.delete(channel);
    this.later(this.vacating, channel, () => {
      if (!this.membership.isOccupied(channel)) this.send({ name: 'channel_vacated', channel });
    });
  }

  memberAdded(channel: string, userId: string): void {
    const key = `${channel}\n${userId}`;
    const pending = this.leaving.get(key);
    if (pending !== undefined) {
      clearTimeout(pending.timer);
      this.leaving.delete(key);
      return;
    }
    this.send({ name: 'member_added', channel, user_id: userId });
  }

  memberRemoved(channel: string, userId: string): void {
    this.later(this.leaving, `${channel}\n${userId}`, () => {
      if (!this.membership.isMember(channel, userId)) this.send({ name: 'member_removed', channel, user_id: userId });
    });
  }

  subscriptionCountChanged(channel: string, count: number): void {
    if (!this.options.countsSubscriptions || count === 0 || channel.startsWith('presence-') || !this.sink.wants(this.appId, 'subscription_count')) return;
    let state = this.counts.get(channel);
    if (state === undefined) this.counts.set(channel, (state = { timer: null, sentAt: 0, sent: -1 }));
    if (state.timer !== null) return;
    // Changes in one turn (or, for busy channels, one slow window) make one webhook with the latest count.
    const wait = count > SUBSCRIPTION_COUNT_BUSY ? Math.max(0, state.sentAt + SUBSCRIPTION_COUNT_SLOW_MS - Date.now()) : 0;
    const entry = state;
    entry.timer = setTimeout(() => {
      entry.timer = null;
      const now = this.membership.subscriptionCount(channel);
      if (now === 0 || now === entry.sent || this.counts.get(channel) !== entry) return;
      entry.sent = now;
      entry.sentAt = Date.now();
      this.send({ name: 'subscription_count', channel, subscription_count: now });
    }, wait);
    entry.timer.unref();
  }

  /** A `client-*` event relayed on this node: only this node saw it, so it sends it. */
  clientEvent(channel: string, event: string, data: unknown, socketId: string, userId: string | undefined): void {
    if (!this.sink.wants(this.appId, 'client_event')) return;
    const text = typeof data === 'string' ? data : JSON.stringify(data);
    const payload: WebhookEvent =
      userId === undefined
        ? { name: 'client_event', channel, event, data: text, socket_id: socketId }
        : { name: 'client_event', channel, event, data: text, socket_id: socketId, user_id: userId };
    this.sink.emit(this.appId, payload);
  }

  /**
   * A subscriber found a cache channel empty (here, or on another node:
   * `remote`): one webhook per empty spell, not one per subscriber. Every
   * node keeps the same marks, so the sender sends it once cluster-wide.
   */
  cacheMiss(channel: string, remote = false): void {
    if (this.missed.has(channel)) return;
    this.missed.add(channel);
    if (!remote) this.membership.announcing?.cacheChanged(channel, true);
    this.send({ name: 'cache_miss', channel });
  }

  /** An event was cached for the channel (here, or on another node): its next empty spell is a new one. */
  cacheFilled(channel: string, remote = false): void {
    if (this.missed.size === 0 || !this.missed.delete(channel)) return;
    if (!remote) this.membership.announcing?.cacheChanged(channel, false);
  }

  /**
   * The node is stopping. Alone, it sends the leaves still in their delay
   * now: nobody else will. In a cluster it drops them: every other node
   * holds the same timers and the next leader sends them.
   */
  stop(alone: boolean): void {
    // Members before channels: the order their timers would have fired in.
    const pending = [...this.leaving.values(), ...this.vacating.values()];
    this.leaving.clear();
    this.vacating.clear();
    for (const leave of pending) {
      clearTimeout(leave.timer);
      if (alone) leave.fire();
    }
    for (const state of this.counts.values()) if (state.timer !== null) clearTimeout(state.timer);
    this.counts.clear();
  }

  private later(pending: Map<string, PendingLeave>, key: string, fire: () => void): void {
    const previous = pending.get(key);
    if (previous !== undefined) clearTimeout(previous.timer);
    const timer = setTimeout(() => {
      pending.delete(key);
      // The state is read again now: it is the cluster's as this node knows it.
      fire();
    }, this.options.leaveDelayMs);
    timer.unref();
    pending.set(key, { timer, fire });
  }

  /**
   * This node became the leader: send what it computed after the previous
   * leader was last known alive (`since`). Nothing is lost in the gap; an
   * event of the old leader's last heartbeat interval may come twice.
   */
  takeOver(since: number): void {
    const due = this.unsent.filter((u) => u.at > since);
    this.unsent.length = 0;
    for (const u of due) this.sink.emit(this.appId, u.event);
  }

  private send(event: WebhookEvent): void {
    if (!this.sink.wants(this.appId, event.name)) return;
    if (this.options.sends()) {
      this.sink.emit(this.appId, event);
      return;
    }
    const now = Date.now();
    this.unsent.push({ event, at: now });
    // Kept as long as a leader's death can take to be noticed; bounded however busy the app is.
    while (this.unsent.length > 0 && (this.unsent[0]!.at < now - this.options.keepUnsentMs || this.unsent.length > MAX_UNSENT)) this.unsent.shift();
  }
}
