import type { ShareAnnouncer } from './membership.js';

/**
 * What the core asks of the cluster layer (implemented by ClusterNode). An
 * app's `cluster` is null on a node that is alone: then none of this runs
 * and the single-node paths cost exactly what they did. Membership itself
 * (who is where) lives in the core's model; the cluster layer only carries
 * this node's share to the others and theirs to it.
 */
export interface ClusterLink {
  /** Send an event already delivered here to the other nodes with subscribers. */
  publish(appId: string, channel: string, json: string, excludeSocketId?: string): void;
  /** Start receiving a channel from the other nodes (before its first local subscriber, for clustered presence). */
  watch(appId: string, channel: string, isPresence: boolean): void;
  /** Stop receiving it (nobody stayed). */
  unwatch(appId: string, channel: string): void;
  /** Receive a channel's events for an observer that is not a subscriber (see core/taps.ts), until `untap`. */
  tap(appId: string, channel: string): void;
  untap(appId: string, channel: string): void;
  /** Null when the other nodes' members of the channel are known; else resolves when they are (bounded by the request timeout). */
  presenceReady(appId: string, channel: string): Promise<void> | null;
  /**
   * A cache channel's last event across the cluster, or null when this
   * node's own copy is authoritative (call with `firstSubscriber` when the
   * channel has just got its first local subscriber).
   */
  cachedEventLookup(appId: string, channel: string, firstSubscriber: boolean): Promise<string | undefined> | null;
  /** Carries an app's share of this node to the other nodes. */
  announcerFor(appId: string): ShareAnnouncer;
  /** Whether this node holds the cluster's leader lease (the leader sends the cluster's webhooks). */
  readonly isLeader: boolean;
  /** Called when this node becomes the leader, with when the previous one was last known alive. */
  onBecameLeader(listener: (previousLeaderSeenAt: number) => void): void;
}
