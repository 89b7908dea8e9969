/**
 * One app's membership across the cluster, in which this node is one node
 * among the others. It is the only place that decides when a channel becomes
 * occupied or vacated, a presence member is added or removed, a user comes
 * online or goes offline, or a channel's subscription count changes: every
 * such transition is computed here, once, and handed to the observers (the
 * frames this node's clients get, and webhooks).
 *
 * What a node "holds" is its share: per channel a subscriber count and, for
 * presence channels, its members; and its signed-in users. This node's own
 * share is kept under LOCAL_NODE and updated by the core; the other nodes'
 * shares arrive through the cluster layer. A remote share is complete for
 * replicated apps (those with webhooks, whose every change travels to every
 * node) and covers the channels this node has subscribers for otherwise.
 */

/** This node's own share; node ids are never empty, so this never names a peer. */
export const LOCAL_NODE = '';

/** One node's part of a channel. */
interface ChannelShare {
  subs: number;
  /** Presence: user id → user info. */
  members: Map<string, unknown> | null;
}

/** Everything one node holds of this app. */
interface NodeShare {
  readonly channels: Map<string, ChannelShare>;
  readonly users: Set<string>;
}

/** A channel across the nodes this node knows of. */
interface ChannelTally {
  /** Nodes with at least one subscriber. */
  nodes: number;
  /** Subscribers, summed over those nodes. */
  subs: number;
  /** Presence: user id → how many nodes have that user as a member. */
  members: Map<string, number> | null;
}

/** A channel as one node reports it in a full list of its share. */
export interface ChannelShareEntry {
  channel: string;
  subs: number;
  /** Presence channels only. */
  members?: Array<[string, unknown]>;
}

/** Who learns of a transition. Handlers must be cheap and must not call back into the model synchronously. */
export interface MembershipObserver {
  channelOccupied?(channel: string): void;
  channelVacated?(channel: string): void;
  /** `exceptSocketId`: the socket whose subscription made the user a member (it hears of itself in subscription_succeeded). */
  memberAdded?(channel: string, userId: string, userInfo: unknown, exceptSocketId: string | undefined): void;
  memberRemoved?(channel: string, userId: string): void;
  userOnline?(userId: string): void;
  userOffline?(userId: string): void;
  subscriptionCountChanged?(channel: string, count: number): void;
}

/** What the model tells the rest of the cluster about this node's own share (implemented by the cluster layer). */
export interface ShareAnnouncer {
  /** This node got its first subscriber of a channel (`isPresence`: its members matter) or lost its last one. */
  watch(channel: string, isPresence: boolean): void;
  unwatch(channel: string): void;
  subscribers(channel: string, count: number): void;
  memberJoined(channel: string, userId: string, userInfo: unknown): void;
  memberLeft(channel: string, userId: string): void;
  userSignedIn(userId: string): void;
  userSignedOut(userId: string): void;
  /** A cache channel of a replicated app was found empty here, or got an event here after being found empty. */
  cacheChanged(channel: string, missed: boolean): void;
}

export class AppMembership {
  private readonly shares = new Map<string, NodeShare>();
  private readonly channels = new Map<string, ChannelTally>();
  /** User id → nodes the user is signed in on. */
  private readonly users = new Map<string, number>();
  private readonly observers: MembershipObserver[] = [];
  private announcer: ShareAnnouncer | null = null;

  constructor() {
    this.shares.set(LOCAL_NODE, { channels: new Map(), users: new Set() });
  }

  observe(observer: MembershipObserver): void {
    this.observers.push(observer);
  }

  /** Where this node's own changes go (null while the node is alone). */
  get announcing(): ShareAnnouncer | null {
    return this.announcer;
  }

  /** From now on this node's own changes are told to the other nodes. */
  announceTo(announcer: ShareAnnouncer): void {
    this.announcer = announcer;
  }

  // ---- changes: this node's (node = LOCAL_NODE) or another's --------------------

  /** A node's subscriber count for a channel. */
  setSubscribers(node: string, channel: string, count: number, isPresence: boolean): void {
    const share = this.shareOf(node);
    let entry = share.channels.get(channel);
    const before = entry?.subs ?? 0;
    if (before === count) return;
    if (entry === undefined) share.channels.set(channel, (entry = { subs: 0, members: isPresence ? new Map() : null }));
    entry.subs = count;
    const tally = this.tallyOf(channel, isPresence);
    tally.subs += count - before;
    if (node === LOCAL_NODE) {
      if (before === 0) this.announcer?.watch(channel, isPresence);
      this.announcer?.subscribers(channel, count);
    }
    if (before === 0) {
      if (++tally.nodes === 1) this.emitOccupied(channel);
    } else if (count === 0) {
      if (--tally.nodes === 0) this.emitVacated(channel);
    }
    this.emitCount(channel, tally.subs);
    if (count === 0) {
      if (node === LOCAL_NODE) this.announcer?.unwatch(channel);
      this.dropEmpty(share, channel, entry);
    }
  }

  /** A user became a member of a presence channel on a node (its first socket there). */
  memberJoined(node: string, channel: string, userId: string, userInfo: unknown, exceptSocketId?: string): void {
    const share = this.shareOf(node);
    let entry = share.channels.get(channel);
    if (entry === undefined) share.channels.set(channel, (entry = { subs: 0, members: new Map() }));
    const members = (entry.members ??= new Map());
    const known = members.has(userId);
    members.set(userId, userInfo);
    if (known) return;
    if (node === LOCAL_NODE) this.announcer?.memberJoined(channel, userId, userInfo);
    const tally = this.tallyOf(channel, true);
    const tallied = (tally.members ??= new Map());
    const nodes = (tallied.get(userId) ?? 0) + 1;
    tallied.set(userId, nodes);
    if (nodes === 1) for (const o of this.observers) o.memberAdded?.(channel, userId, userInfo, exceptSocketId);
  }

  /** A user's last socket on a node left a presence channel. */
  memberLeft(node: string, channel: string, userId: string): void {
    const share = this.shares.get(node);
    const entry = share?.channels.get(channel);
    if (share === undefined || entry?.members?.delete(userId) !== true) return;
    if (node === LOCAL_NODE) this.announcer?.memberLeft(channel, userId);
    const tally = this.channels.get(channel);
    const tallied = tally?.members;
    if (tally !== undefined && tallied != null) {
      const nodes = (tallied.get(userId) ?? 1) - 1;
      if (nodes > 0) {
        tallied.set(userId, nodes);
      } else {
        tallied.delete(userId);
        for (const o of this.observers) o.memberRemoved?.(channel, userId);
      }
      this.dropEmptyTally(channel, tally);
    }
    this.dropEmpty(share, channel, entry);
  }

  /** A user's first socket on a node signed in. */
  signedIn(node: string, userId: string): void {
    const share = this.shareOf(node);
    if (share.users.has(userId)) return;
    share.users.add(userId);
    if (node === LOCAL_NODE) this.announcer?.userSignedIn(userId);
    const nodes = (this.users.get(userId) ?? 0) + 1;
    this.users.set(userId, nodes);
    if (nodes === 1) for (const o of this.observers) o.userOnline?.(userId);
  }

  /** A user's last socket on a node left. */
  signedOut(node: string, userId: string): void {
    const share = this.shares.get(node);
    if (share?.users.delete(userId) !== true) return;
    if (node === LOCAL_NODE) this.announcer?.userSignedOut(userId);
    const nodes = (this.users.get(userId) ?? 1) - 1;
    if (nodes > 0) {
      this.users.set(userId, nodes);
      return;
    }
    this.users.delete(userId);
    for (const o of this.observers) o.userOffline?.(userId);
  }

  /** Replace a node's members of one presence channel with a full list (a sync answer). */
  replaceMembers(node: string, channel: string, list: ReadonlyArray<readonly [string, unknown]>): void {
    const incoming = new Map(list);
    const current = this.shares.get(node)?.channels.get(channel)?.members;
    if (current != null) for (const userId of [...current.keys()]) if (!incoming.has(userId)) this.memberLeft(node, channel, userId);
    for (const [userId, info] of incoming) this.memberJoined(node, channel, userId, info);
  }

  /** Replace the users a node has signed in with a full list. */
  replaceUsers(node: string, list: Iterable<string>): void {
    const incoming = new Set(list);
    const share = this.shares.get(node);
    if (share !== undefined) for (const userId of [...share.users]) if (!incoming.has(userId)) this.signedOut(node, userId);
    for (const userId of incoming) this.signedIn(node, userId);
  }

  /** Replace everything a node holds of this app's channels with a full list (replicated apps). */
  replaceChannels(node: string, list: readonly ChannelShareEntry[]): void {
    const incoming = new Map(list.map((e) => [e.channel, e]));
    const share = this.shares.get(node);
    if (share !== undefined) {
      for (const [channel, entry] of [...share.channels]) {
        if (incoming.has(channel)) continue;
        if (entry.members !== null) this.replaceMembers(node, channel, []);
        this.setSubscribers(node, channel, 0, entry.members !== null);
      }
    }
    for (const e of list) {
      const isPresence = e.members !== undefined;
      // Joins first: a channel whose members arrive before its count is never briefly vacated.
      if (isPresence) this.replaceMembers(node, e.channel, e.members!);
      this.setSubscribers(node, e.channel, e.subs, isPresence);
    }
  }

  /** A node is gone (dead, restarted, or said goodbye): everything it held leaves, each transition once. */
  dropNode(node: string): void {
    if (node === LOCAL_NODE) return;
    const share = this.shares.get(node);
    if (share === undefined) return;
    this.replaceChannels(node, []);
    this.replaceUsers(node, []);
    this.shares.delete(node);
  }

  /**
   * Forget what the other nodes have of a channel without announcing
   * anything: this node stopped receiving it (non-replicated apps), so what
   * it knew would only go stale.
   */
  forgetRemote(channel: string): void {
    for (const [node, share] of this.shares) {
      if (node === LOCAL_NODE) continue;
      const entry = share.channels.get(channel);
      if (entry === undefined) continue;
      share.channels.delete(channel);
      const tally = this.channels.get(channel);
      if (tally === undefined) continue;
      if (entry.subs > 0) {
        tally.nodes--;
        tally.subs -= entry.subs;
      }
      if (entry.members !== null && tally.members !== null) {
        for (const userId of entry.members.keys()) {
          const nodes = (tally.members.get(userId) ?? 1) - 1;
          if (nodes > 0) tally.members.set(userId, nodes);
          else tally.members.delete(userId);
        }
      }
      this.dropEmptyTally(channel, tally);
    }
  }

  // ---- reads ---------------------------------------------------------------------

  /** Whether any node this node knows of has subscribers for the channel. */
  isOccupied(channel: string): boolean {
    return (this.channels.get(channel)?.nodes ?? 0) > 0;
  }

  /** Subscribers across the nodes this node knows the counts of. */
  subscriptionCount(channel: string): number {
    return this.channels.get(channel)?.subs ?? 0;
  }

  /** Whether the user is a member of the channel on any node. */
  isMember(channel: string, userId: string): boolean {
    return this.channels.get(channel)?.members?.has(userId) === true;
  }

  /** Whether the user is a member of the channel through a node other than this one. */
  isMemberElsewhere(channel: string, userId: string): boolean {
    const nodes = this.channels.get(channel)?.members?.get(userId) ?? 0;
    const here = this.shares.get(LOCAL_NODE)!.channels.get(channel)?.members?.has(userId) === true ? 1 : 0;
    return nodes - here > 0;
  }

  /** Distinct members across the cluster. */
  memberCount(channel: string): number {
    return this.channels.get(channel)?.members?.size ?? 0;
  }

  /** Each member once, this node's first (in join order), with the info of the first node that has them. */
  *members(channel: string): Iterable<[string, unknown]> {
    const seen = new Set<string>();
    for (const share of this.shares.values()) {
      const members = share.channels.get(channel)?.members;
      if (members == null) continue;
      for (const entry of members) {
        if (seen.has(entry[0])) continue;
        seen.add(entry[0]);
        yield entry;
      }
    }
  }

  isOnline(userId: string): boolean {
    return this.users.has(userId);
  }

  /** Whether the user is signed in on a node other than this one. */
  isOnlineElsewhere(userId: string): boolean {
    const here = this.shares.get(LOCAL_NODE)!.users.has(userId) ? 1 : 0;
    return (this.users.get(userId) ?? 0) - here > 0;
  }

  /** On how many other nodes the user is signed in (diagnostics). */
  nodesSignedInElsewhere(userId: string): number {
    const here = this.shares.get(LOCAL_NODE)!.users.has(userId) ? 1 : 0;
    return (this.users.get(userId) ?? 0) - here;
  }

  /** This node's members of a channel. */
  localMembers(channel: string): Array<[string, unknown]> {
    const members = this.shares.get(LOCAL_NODE)!.channels.get(channel)?.members;
    return members == null ? [] : [...members];
  }

  /** This node's whole share of the app's channels, for a full-list announcement. */
  localChannels(): ChannelShareEntry[] {
    const list: ChannelShareEntry[] = [];
    for (const [channel, entry] of this.shares.get(LOCAL_NODE)!.channels) {
      list.push(entry.members === null ? { channel, subs: entry.subs } : { channel, subs: entry.subs, members: [...entry.members] });
    }
    return list;
  }

  /** Presence channels with local members. */
  localPresenceChannels(): string[] {
    const list: string[] = [];
    for (const [channel, entry] of this.shares.get(LOCAL_NODE)!.channels) if (entry.members !== null && entry.members.size > 0) list.push(channel);
    return list;
  }

  localUsers(): Iterable<string> {
    return this.shares.get(LOCAL_NODE)!.users;
  }

  // ---- internals -----------------------------------------------------------------

  private shareOf(node: string): NodeShare {
    let share = this.shares.get(node);
    if (share === undefined) this.shares.set(node, (share = { channels: new Map(), users: new Set() }));
    return share;
  }

  private tallyOf(channel: string, isPresence: boolean): ChannelTally {
    let tally = this.channels.get(channel);
    if (tally === undefined) this.channels.set(channel, (tally = { nodes: 0, subs: 0, members: isPresence ? new Map() : null }));
    else if (isPresence && tally.members === null) tally.members = new Map();
    return tally;
  }

  private dropEmpty(share: NodeShare, channel: string, entry: ChannelShare): void {
    if (entry.subs === 0 && (entry.members === null || entry.members.size === 0)) share.channels.delete(channel);
    const tally = this.channels.get(channel);
    if (tally !== undefined) this.dropEmptyTally(channel, tally);
  }

  private dropEmptyTally(channel: string, tally: ChannelTally): void {
    if (tally.nodes === 0 && (tally.members === null || tally.members.size === 0)) this.channels.delete(channel);
  }

  private emitOccupied(channel: string): void {
    for (const o of this.observers) o.channelOccupied?.(channel);
  }

  private emitVacated(channel: string): void {
    for (const o of this.observers) o.channelVacated?.(channel);
  }

  private emitCount(channel: string, count: number): void {
    for (const o of this.observers) o.subscriptionCountChanged?.(channel, count);
  }
}
