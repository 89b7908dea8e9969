/**
 * What the core asks of the cluster layer (implemented by ClusterNode). An
 * app's `cluster` is null on a node that is alone: then none of this runs
 * and the single-node paths cost exactly what they did.
 */
export interface ClusterLink {
  /** Send an event already delivered here to the other nodes with subscribers. */
  publish(appId: string, channel: string, json: string, excludeSocketId?: string): void;
  /** First local subscriber: start receiving the channel from the other nodes. */
  channelOccupied(appId: string, channel: string, isPresence: boolean): void;
  /** Last local subscriber gone. */
  channelVacated(appId: string, channel: string): void;
  /** A user's first local socket joined a presence channel. */
  localMemberJoined(appId: string, channel: string, userId: string, userInfo: unknown): void;
  /** A user's last local socket left a presence channel. */
  localMemberLeft(appId: string, channel: string, userId: string): void;
  /** Whether the user is a member through another node. */
  hasRemoteMember(appId: string, channel: string, userId: string): boolean;
  /** Members through other nodes, each user once. */
  remoteMembers(appId: string, channel: string): Iterable<[string, unknown]>;
  /** Null when the other nodes' members are known; else resolves when they are (bounded by the request timeout). */
  presenceReady(appId: string, channel: string): Promise<void> | null;
  /** Distinct members across the cluster: `local` plus the other nodes' users not in it. */
  memberCount(appId: string, channel: string, local: ReadonlyMap<string, unknown> | undefined): number;
  /**
   * A cache channel's last event across the cluster, or null when this
   * node's own copy is authoritative (call with `firstSubscriber` when the
   * channel has just got its first local subscriber).
   */
  cachedEventLookup(appId: string, channel: string, firstSubscriber: boolean): Promise<string | undefined> | null;
  /** A user's first local socket signed in. */
  userSignedIn(appId: string, userId: string): void;
  /** A user's last local socket left. */
  userSignedOut(appId: string, userId: string): void;
  /** Whether the user is signed in through another node. */
  isUserOnlineElsewhere(appId: string, userId: string): boolean;
}
