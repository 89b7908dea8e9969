import { randomBytes } from 'node:crypto';
import type { ClusterTransport, LinkStateChange } from '../adapters/types.js';
import type { ClusterLink } from '../core/cluster-link.js';
import type { AppMembership, ShareAnnouncer } from '../core/membership.js';
import type { Logger } from '../util/logger.js';
import { CacheLookups, type LocalCache } from './cache-lookups.js';
import { ClusterUnavailableError, DegradedMode } from './degraded.js';
import { LeaderElector } from './leader.js';
import {
  decodeMessage,
  encodeMessage,
  publishPrefix,
  type ClusterMessage,
  type ClusterQuery,
  type Heartbeat,
  type NodeLoad,
  type PresenceChange,
  type PresenceSync,
  type PresenceSyncRequest,
  type ShareTuple,
  type SharesSync,
  type SubscribersChange,
  type UserChange,
  type UsersSync,
} from './messages.js';
import { clusterMetrics } from '../metrics/index.js';
import { NodeRegistry, type PeerNode } from './registry.js';
import { SyncAssembler, UsersSyncAssembler, splitShares, splitUsers, type UserPair } from './users-sync.js';
import { RequestTracker } from './requests.js';
import {
  APPS_SUBJECT,
  LEADER_LEASE_KEY,
  MEMBERSHIP_SUBJECT,
  REQUEST_SUBJECT,
  SHARES_SUBJECT,
  USERS_SUBJECT,
  channelSubject,
  inboxSubject,
} from './subjects.js';

/** What the cluster layer needs from the node it serves (implemented by the core's wiring). */
export interface ClusterHost extends LocalCache {
  /** An event published on another node, for a channel this node has subscribers for. */
  deliver(appId: string, channel: string, json: string, excludeSocketId: string | undefined): void;
  /** The app's membership model, where the other nodes' shares are applied; undefined for an app this node does not serve. */
  membership(appId: string): AppMembership | undefined;
  /** Whether every membership change of the app travels to every node (apps with webhooks). */
  replicated(appId: string): boolean;
  appIds(): Iterable<string>;
  /** Another node found a replicated app's cache channel empty, or filled it again. */
  cacheChanged(appId: string, channel: string, missed: boolean): void;
  /** An app changed in the app store: drop the cached copy, apply it if live here. */
  appChanged?(appId: string, keys: readonly string[]): void;
  /** This node's local answer to a query from another node. */
  answer(query: ClusterQuery): unknown;
  load(): NodeLoad;
}

export interface ClusterNodeOptions {
  /** Stable id of this node (a restart under the same id replaces the old run). */
  nodeId: string;
  /** Where clients and balancers reach it (`host:port`), for `GET /cluster`. */
  address: string;
  heartbeatIntervalMs: number;
  /** Silence after which a peer is declared dead. */
  nodeTimeoutMs: number;
  requestTimeoutMs: number;
  leaderLeaseMs: number;
  /** How long start() waits for the broker before carrying on degraded. */
  connectWaitMs?: number;
  logger?: Logger;
}

/** A peer or this node, as `GET /cluster` shows it. */
interface ClusterMember {
  id: string;
  address: string;
  load: NodeLoad;
  self: boolean;
  leader: boolean;
  /** Ms since its last heartbeat (0 for this node). */
  lastSeenMs: number;
  startedAt: number;
}

export interface ClusterDescription {
  nodeId: string;
  adapter: string;
  link: string;
  degraded: boolean;
  circuit: string;
  leader: string | null;
  nodes: ClusterMember[];
}

/** Remote answers to a query and whether every live node answered. */
export interface QueryResult {
  answers: unknown[];
  complete: boolean;
}

interface PresenceInterest {
  /** Resolves once the first sync after subscribing is in (or timed out). */
  ready: Promise<void> | null;
}

/**
 * This node's seat in the cluster: heartbeats and the registry, leader
 * election, fan-out of events to the nodes that have subscribers, presence
 * replicas, and cluster-wide requests. Talks to the broker only through a
 * ClusterTransport and to the node only through a ClusterHost.
 */
export class ClusterNode implements ClusterLink {
  readonly id: string;
  /** This run of the node: lets peers tell a restart from a long pause. */
  readonly incarnation = randomBytes(6).toString('base64url');
  private readonly startedAt = Date.now();
  private readonly registry: NodeRegistry;
  private readonly requests: RequestTracker;
  private readonly leader: LeaderElector;
  readonly degraded: DegradedMode;
  /** Presence channels of non-replicated apps this node receives: their members are fetched on subscribing. */
  private readonly presence = new Map<string, PresenceInterest>();
  private readonly usersSyncParts = new UsersSyncAssembler();
  private readonly sharesSyncParts = new SyncAssembler<SharesSync, ShareTuple>((part) => part.shares);
  private syncRounds = 0;
  /** Replicated apps' subscriber counts changed this turn (app + '\n' + channel → count): sent once per turn. */
  private readonly pendingCounts = new Map<string, number>();
  /** Replicated channels whose non-zero count the others have been told. */
  private readonly countsSent = new Set<string>();
  private countsFlush: NodeJS.Immediate | null = null;
  private readonly announcers = new Map<string, ShareAnnouncer>();
  /** Date.now() when the leader was last known alive (its heartbeat, or this node's own leadership); 0: never. */
  private leaderSeenAt = 0;
  private heartbeatSentAt = 0;
  private brokerRtt: number | null = null;
  private knownLeader: string | null = null;
  private readonly leadershipListeners: Array<(previousLeaderSeenAt: number) => void> = [];
  private refusedSinceLog = 0;
  private refusedLoggedAt = 0;
  private readonly cacheLookups: CacheLookups;
  /** Channels subscribed upstream (app + '\n' + channel). */
  private readonly interest = new Set<string>();
  /** Channels observed without local subscribers (the dashboard's taps): subscribed upstream too. */
  private readonly tapped = new Set<string>();
  private readonly inbox: string;
  private readonly ownPublishPrefix: string;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private everConnected = false;
  private stopped = false;
  /** Highest leader fencing token seen; verdicts carrying an older one are ignored. */
  private highestToken = 0;
  private readonly log: Logger | undefined;

  constructor(
    private readonly transport: ClusterTransport,
    private readonly host: ClusterHost,
    private readonly options: ClusterNodeOptions,
  ) {
    this.id = options.nodeId;
    this.log = options.logger;
    this.registry = new NodeRegistry(options.nodeTimeoutMs);
    this.requests = new RequestTracker(`${this.id}/${this.incarnation}`);
    this.inbox = inboxSubject(this.id);
    this.ownPublishPrefix = publishPrefix(this.id);
    this.degraded = new DegradedMode(Math.max(500, Math.min(2000, options.requestTimeoutMs)));
    this.leader = new LeaderElector(transport, LEADER_LEASE_KEY, `${this.id}/${this.incarnation}`, options.leaderLeaseMs, (state) => {
      clusterMetrics.leader.set(state.isLeader ? 1 : 0);
      this.log?.info({ nodeId: this.id, leader: state.isLeader, token: state.token }, state.isLeader ? 'became cluster leader' : 'no longer cluster leader');
      // Until now this node was a leader itself: what it sent, it sent.
      if (!state.isLeader) this.leaderSeenAt = Date.now();
      else for (const listener of this.leadershipListeners) listener(this.leaderSeenAt);
    });
    this.cacheLookups = new CacheLookups(host, async (app, name) => (await this.query({ q: 'cached-event', app, name })).answers);
    transport.setHandler((_subject, payload) => this.receive(payload));
    transport.onStateChange((change) => this.onLinkChange(change));
    transport.onRefused((subject, reason) => this.onRefused(subject, reason));
  }

  /** Join the cluster. Waits for the broker up to `connectWaitMs`, then carries on degraded (it keeps retrying). */
  async start(): Promise<void> {
    // Subscriptions are recorded before connecting: the link makes them on every (re)connect.
    void this.transport.subscribe(MEMBERSHIP_SUBJECT);
    void this.transport.subscribe(REQUEST_SUBJECT);
    void this.transport.subscribe(USERS_SUBJECT);
    void this.transport.subscribe(APPS_SUBJECT);
    if ([...this.host.appIds()].some((app) => this.host.replicated(app))) this.subscribeShares();
    void this.transport.subscribe(this.inbox);
    const connected = this.transport.connect().then(() => true);
    const waited = await Promise.race([connected, delay(this.options.connectWaitMs ?? 3000).then(() => false)]);
    if (!waited) this.log?.warn({ adapter: this.transport.kind }, 'cluster broker unreachable at start: running degraded until it answers');
    this.heartbeatTimer = setInterval(() => this.beat(), this.options.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
    this.leader.start();
    clusterMetrics.nodes.set(1);
  }

  private sharesSubscribed = false;

  private subscribeShares(): void {
    if (this.sharesSubscribed) return;
    this.sharesSubscribed = true;
    void this.transport.subscribe(SHARES_SUBJECT);
  }

  /**
   * An app became live here after the join (from the app store). A
   * replicated one needs the shares subject and the other nodes' full
   * shares of it: a hello makes every node send them again.
   */
  appAdded(appId: string): void {
    if (!this.host.replicated(appId)) return;
    this.subscribeShares();
    this.beat(true);
  }

  /** Tell every node an app changed in the store (they drop their cached copy within a broker round trip). */
  announceAppChange(appId: string, keys: readonly string[]): boolean {
    return this.send(APPS_SUBJECT, { t: 'app-changed', from: this.id, app: appId, keys: [...keys] }, 'apps');
  }

  /** Leave the cluster. Graceful: say goodbye and hand back the lease; otherwise just drop the link. */
  async stop(graceful = true): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    this.requests.abortAll();
    if (graceful) {
      this.send(MEMBERSHIP_SUBJECT, { t: 'bye', from: this.id, inc: this.incarnation }, 'membership');
      await this.leader.stop(true);
      await delay(20); // let the goodbye's coalesced write leave before the link closes
    } else {
      await this.leader.stop(false);
    }
    await this.transport.close();
  }

  /** Ms the last heartbeat took to come back through the broker; null before one has (or on a broker that does not echo). */
  get brokerRoundTripMs(): number | null {
    return this.brokerRtt;
  }

  /** The broker link's state: connecting, connected, disconnected or closed. */
  get linkState(): string {
    return this.transport.state;
  }

  get isLeader(): boolean {
    return this.leader.isLeader;
  }

  /**
   * Call `listener` whenever this node becomes the leader, with the
   * Date.now() at which the previous leader was last known alive (0 if
   * never): what happened after it may not have been sent by anyone.
   */
  onBecameLeader(listener: (previousLeaderSeenAt: number) => void): void {
    this.leadershipListeners.push(listener);
  }

  /** Live peers, this node not included. */
  peers(): PeerNode[] {
    return this.registry.live();
  }

  describe(): ClusterDescription {
    const now = performance.now();
    const holder = this.leader.state.holder;
    const leaderId = holder === null ? null : holder.slice(0, holder.lastIndexOf('/'));
    const nodes: ClusterMember[] = [
      {
        id: this.id,
        address: this.options.address,
        load: this.host.load(),
        self: true,
        leader: this.leader.isLeader,
        lastSeenMs: 0,
        startedAt: this.startedAt,
      },
      ...this.registry.live().map((p) => ({
        id: p.id,
        address: p.address,
        load: p.load,
        self: false,
        leader: p.id === leaderId,
        lastSeenMs: Math.round(now - p.lastSeen),
        startedAt: p.startedAt,
      })),
    ];
    return {
      nodeId: this.id,
      adapter: this.transport.kind,
      link: this.transport.state,
      degraded: this.degraded.degraded,
      circuit: this.degraded.circuit,
      leader: this.leader.isLeader ? this.id : leaderId,
      nodes,
    };
  }

  // ---- fan-out --------------------------------------------------------------

  /** Send an event already delivered locally to the nodes that have subscribers for the channel. */
  publish(appId: string, channel: string, json: string, excludeSocketId?: string): void {
    const message: ClusterMessage =
      excludeSocketId === undefined
        ? { t: 'publish', from: this.id, app: appId, channel, json }
        : { t: 'publish', from: this.id, app: appId, channel, json, except: excludeSocketId };
    this.send(channelSubject(appId, channel), message, 'publish');
  }

  /** Start receiving a channel (its first local subscriber, or a presence subscription about to wait for members). */
  watch(appId: string, channel: string, isPresence: boolean): void {
    const key = channelKey(appId, channel);
    if (this.interest.has(key)) return;
    this.interest.add(key);
    const subscribed = this.tapped.has(key) ? Promise.resolve() : this.transport.subscribe(channelSubject(appId, channel));
    // A replicated app's members arrive with every node's share: nothing to fetch.
    if (!isPresence || this.host.replicated(appId)) return;
    const interest: PresenceInterest = { ready: null };
    this.presence.set(key, interest);
    interest.ready = subscribed
      .then(() => this.syncPresence(appId, channel))
      .finally(() => {
        if (this.presence.get(key) === interest) interest.ready = null;
      });
  }

  /** Stop receiving a channel: nobody here is subscribed any more. */
  unwatch(appId: string, channel: string): void {
    const key = channelKey(appId, channel);
    if (!this.interest.delete(key)) return;
    this.presence.delete(key);
    if (!this.tapped.has(key)) this.transport.unsubscribe(channelSubject(appId, channel));
    // What this node knew of the others' members of it would only go stale.
    if (!this.host.replicated(appId)) this.host.membership(appId)?.forgetRemote(channel);
  }

  /** Receive a channel for an observer that is not a subscriber (core/taps.ts): subscribed upstream while tapped or watched. */
  tap(appId: string, channel: string): void {
    const key = channelKey(appId, channel);
    if (this.tapped.has(key)) return;
    this.tapped.add(key);
    // The link never rejects: it resubscribes its subjects after a reconnect.
    if (!this.interest.has(key)) void this.transport.subscribe(channelSubject(appId, channel));
  }

  untap(appId: string, channel: string): void {
    const key = channelKey(appId, channel);
    if (!this.tapped.delete(key)) return;
    if (!this.interest.has(key)) this.transport.unsubscribe(channelSubject(appId, channel));
  }

  /** Null when the presence channel's remote members are known; else a promise that resolves when they are. */
  presenceReady(appId: string, channel: string): Promise<void> | null {
    return this.presence.get(channelKey(appId, channel))?.ready ?? null;
  }

  /** How this node's share of an app reaches the others. */
  announcerFor(appId: string): ShareAnnouncer {
    let announcer = this.announcers.get(appId);
    if (announcer !== undefined) return announcer;
    const replicated = this.host.replicated(appId);
    announcer = {
      watch: (channel, isPresence) => this.watch(appId, channel, isPresence),
      unwatch: (channel) => this.unwatch(appId, channel),
      subscribers: (channel, count) => {
        if (replicated) this.queueCount(appId, channel, count);
      },
      memberJoined: (channel, userId, userInfo) =>
        this.send(
          this.membershipSubject(appId, channel),
          { t: 'presence', from: this.id, inc: this.incarnation, app: appId, channel, op: 'join', user: userId, info: userInfo },
          'presence',
        ),
      memberLeft: (channel, userId) =>
        this.send(
          this.membershipSubject(appId, channel),
          { t: 'presence', from: this.id, inc: this.incarnation, app: appId, channel, op: 'leave', user: userId },
          'presence',
        ),
      userSignedIn: (userId) => this.send(USERS_SUBJECT, { t: 'user', from: this.id, inc: this.incarnation, app: appId, op: 'online', user: userId }, 'users'),
      userSignedOut: (userId) =>
        this.send(USERS_SUBJECT, { t: 'user', from: this.id, inc: this.incarnation, app: appId, op: 'offline', user: userId }, 'users'),
      cacheChanged: (channel, missed) => {
        if (replicated)
          this.send(SHARES_SUBJECT, { t: 'cache', from: this.id, inc: this.incarnation, app: appId, channel, op: missed ? 'miss' : 'filled' }, 'presence');
      },
    };
    this.announcers.set(appId, announcer);
    return announcer;
  }

  /**
   * Presence changes of a replicated app go where every node hears them,
   * in order with that node's counts and full shares; otherwise to the
   * nodes that receive the channel.
   */
  private membershipSubject(appId: string, channel: string): string {
    return this.host.replicated(appId) ? SHARES_SUBJECT : channelSubject(appId, channel);
  }

  /**
   * Counts change with every subscribe: the last count of a turn is the one
   * sent. A channel's first and last subscriber go at once, so that the
   * others see it occupied before its members join and empty after they leave.
   */
  private queueCount(appId: string, channel: string, count: number): void {
    const key = channelKey(appId, channel);
    const pending = this.pendingCounts.get(key);
    if (count === 0 || (pending === undefined && !this.countsSent.has(key))) {
      this.pendingCounts.delete(key);
      if (count === 0) this.countsSent.delete(key);
      else this.countsSent.add(key);
      this.send(SHARES_SUBJECT, { t: 'subs', from: this.id, inc: this.incarnation, app: appId, channel, n: count }, 'presence');
      return;
    }
    this.pendingCounts.set(key, count);
    this.countsFlush ??= setImmediate(() => this.flushCounts());
  }

  private flushCounts(): void {
    this.countsFlush = null;
    for (const [key, n] of this.pendingCounts) {
      const [app, channel] = splitKey(key);
      this.send(SHARES_SUBJECT, { t: 'subs', from: this.id, inc: this.incarnation, app, channel, n }, 'presence');
    }
    this.pendingCounts.clear();
  }

  // ---- cache channels -----------------------------------------------------------

  /**
   * The last event of a cache channel across the cluster, or null when this
   * node's copy is authoritative. See CacheLookups.
   */
  cachedEventLookup(appId: string, channel: string, firstSubscriber: boolean): Promise<string | undefined> | null {
    return this.cacheLookups.lookup(appId, channel, firstSubscriber);
  }

  // ---- signed-in users (watchlists) ---------------------------------------------

  /** On how many other nodes the user is signed in, as far as this node has heard (diagnostics). */
  userNodeCountElsewhere(appId: string, userId: string): number {
    return this.host.membership(appId)?.nodesSignedInElsewhere(userId) ?? 0;
  }

  // ---- cluster-wide requests --------------------------------------------------

  /**
   * Ask every live peer. Resolves with their answers and whether all of them
   * answered; with no answers at all (complete: false) when degraded.
   */
  async query(query: ClusterQuery): Promise<QueryResult> {
    const peers = this.registry.liveIds();
    if (peers.length === 0) return { answers: [], complete: true };
    const collected = await this.degraded.guard(async () => {
      const id = this.requests.nextId();
      const pending = this.requests.collect(id, peers, this.options.requestTimeoutMs);
      if (!this.send(REQUEST_SUBJECT, { t: 'request', from: this.id, inc: this.incarnation, id, query }, 'request')) {
        this.requests.cancel(id);
        throw new ClusterUnavailableError('request not sent');
      }
      const result = await pending;
      if (result.answers.size === 0 && result.missing.length > 0) throw new ClusterUnavailableError('no node answered');
      return result;
    });
    if (collected === null) {
      clusterMetrics.requests.inc({ outcome: 'local_only' });
      return { answers: [], complete: false };
    }
    const complete = collected.missing.length === 0;
    clusterMetrics.requests.inc({ outcome: complete ? 'complete' : 'partial' });
    if (!complete) this.log?.warn({ query: query.q, missing: collected.missing }, 'cluster request: some nodes did not answer in time');
    return { answers: [...collected.answers.values()], complete };
  }

  // ---- receiving ----------------------------------------------------------------

  private receive(payload: string): void {
    // Our own publishes come back on channels we also have subscribers for: dropped before decoding.
    if (payload.startsWith(this.ownPublishPrefix)) return;
    const message = decodeMessage(payload);
    if (message === null) {
      clusterMetrics.invalid.inc();
      return;
    }
    // Our own messages come back on subjects we also subscribe to; our heartbeat's return times the broker.
    if (message.from === this.id) {
      if (message.t === 'heartbeat' && message.inc === this.incarnation && this.heartbeatSentAt !== 0) {
        this.brokerRtt = performance.now() - this.heartbeatSentAt;
        this.heartbeatSentAt = 0;
      }
      return;
    }
    clusterMetrics.received.inc({ type: message.t });
    try {
      this.handle(message);
    } catch (err) {
      this.log?.error({ err, type: message.t }, 'fault while handling a cluster message');
    }
  }

  private handle(m: ClusterMessage): void {
    switch (m.t) {
      case 'publish':
        this.host.deliver(m.app, m.channel, m.json, m.except);
        return;
      case 'presence':
        this.onPresenceChange(m);
        return;
      case 'presence-sync':
        this.onPresenceSync(m);
        return;
      case 'user':
        this.onUserChange(m);
        return;
      case 'users-sync':
        this.onUsersSync(m);
        return;
      case 'subs':
        this.onSubscribers(m);
        return;
      case 'shares-sync':
        this.onSharesSync(m);
        return;
      case 'cache':
        if (this.host.replicated(m.app)) this.host.cacheChanged(m.app, m.channel, m.op === 'miss');
        return;
      case 'heartbeat':
        this.onHeartbeat(m);
        return;
      case 'bye':
        this.nodeDown(m.from, m.inc, 'goodbye');
        return;
      case 'node-down':
        if (m.token < this.highestToken) return; // a deposed leader's late verdict
        this.highestToken = m.token;
        if (m.node === this.id) return; // about an old run of ours, or wrong about us: our heartbeats correct it
        this.nodeDown(m.node, m.nodeInc, 'leader');
        return;
      case 'request':
        this.answerRequest(m.id, m.from, m.query);
        return;
      case 'sync-request':
        this.answerSyncRequest(m);
        return;
      case 'app-changed':
        this.host.appChanged?.(m.app, m.keys);
        return;
      case 'response':
        if (m.to === this.id) this.requests.answer(m.id, m.from, m.ok, m.answer);
        return;
    }
  }

  private onHeartbeat(hb: Heartbeat): void {
    // The holder as last read from the lease store (a poll that failed leaves it unknown: keep the last one known).
    this.knownLeader = this.leader.state.holder ?? this.knownLeader;
    if (this.knownLeader === `${hb.from}/${hb.inc}`) this.leaderSeenAt = Date.now();
    const seen = this.registry.observe(hb);
    if (seen.kind === 'known') {
      // A known node saying hello again has been cut off from the broker: it missed our changes.
      if (hb.hello === true) this.sendFullLists();
      return;
    }
    if (seen.kind === 'restarted') this.forgetNode(seen.previous.id, seen.previous.incarnation, 'restarted');
    clusterMetrics.nodes.set(this.registry.liveIds().length + 1);
    this.log?.info({ nodeId: hb.from, address: hb.address, restarted: seen.kind === 'restarted' }, 'cluster node joined');
    // Introduce ourselves at once to a newcomer rather than at our next beat.
    if (hb.hello === true) this.beat();
    // A newcomer (or a node back from a broker outage) needs our signed-in users and replicated shares.
    this.sendFullLists();
    // It may hold members we do not know of (a node back after a pause or a broker outage).
    if (hb.hello !== true) for (const key of this.presence.keys()) this.requestSync(...splitKey(key), [hb.from]);
  }

  /** A peer's membership change applies to channels this node receives, and to every channel of a replicated app. */
  private modelFor(appId: string, channel: string): AppMembership | undefined {
    if (!this.host.replicated(appId) && !this.interest.has(channelKey(appId, channel))) return undefined;
    return this.host.membership(appId);
  }

  private onPresenceChange(m: PresenceChange): void {
    if (this.registry.isDead(m.from, m.inc)) return;
    const model = this.modelFor(m.app, m.channel);
    if (model === undefined) return;
    if (m.op === 'join') model.memberJoined(m.from, m.channel, m.user, m.info);
    else model.memberLeft(m.from, m.channel, m.user);
  }

  private onPresenceSync(m: PresenceSync): void {
    if (m.to !== undefined && m.to !== this.id) return;
    if (m.id !== undefined) this.requests.answer(m.id, m.from, true, null);
    if (this.registry.isDead(m.from, m.inc)) return;
    this.modelFor(m.app, m.channel)?.replaceMembers(m.from, m.channel, m.members);
  }

  private onSubscribers(m: SubscribersChange): void {
    if (this.registry.isDead(m.from, m.inc) || !this.host.replicated(m.app)) return;
    this.host.membership(m.app)?.setSubscribers(m.from, m.channel, m.n, m.channel.startsWith('presence-'));
  }

  private onUserChange(m: UserChange): void {
    if (this.registry.isDead(m.from, m.inc)) return;
    const model = this.host.membership(m.app);
    if (m.op === 'online') model?.signedIn(m.from, m.user);
    else model?.signedOut(m.from, m.user);
  }

  private onUsersSync(m: UsersSync): void {
    if (this.registry.isDead(m.from, m.inc)) return;
    const users = this.usersSyncParts.add(m);
    if (users === null) return;
    const byApp = new Map<string, string[]>();
    for (const [appId, userId] of users) {
      let list = byApp.get(appId);
      if (list === undefined) byApp.set(appId, (list = []));
      list.push(userId);
    }
    // A full list replaces: apps it does not name have nobody signed in there.
    for (const appId of this.host.appIds()) this.host.membership(appId)?.replaceUsers(m.from, byApp.get(appId) ?? []);
  }

  private onSharesSync(m: SharesSync): void {
    if (this.registry.isDead(m.from, m.inc)) return;
    const shares = this.sharesSyncParts.add(m);
    if (shares === null) return;
    const byApp = new Map<string, Array<{ channel: string; subs: number; members?: Array<[string, unknown]> }>>();
    for (const [appId, channel, subs, members] of shares) {
      let list = byApp.get(appId);
      if (list === undefined) byApp.set(appId, (list = []));
      list.push(members === null ? { channel, subs } : { channel, subs, members });
    }
    for (const appId of this.host.appIds()) {
      if (this.host.replicated(appId)) this.host.membership(appId)?.replaceChannels(m.from, byApp.get(appId) ?? []);
    }
  }

  /** Tell every node who is signed in here, and this node's share of the replicated apps: replaces what they knew of it. */
  private sendFullLists(): void {
    const users: UserPair[] = [];
    const shares: ShareTuple[] = [];
    for (const appId of this.host.appIds()) {
      const model = this.host.membership(appId);
      if (model === undefined) continue;
      for (const userId of model.localUsers()) users.push([appId, userId]);
      if (!this.host.replicated(appId)) continue;
      for (const e of model.localChannels()) shares.push([appId, e.channel, e.subs, e.members ?? null]);
    }
    this.sendInParts(USERS_SUBJECT, splitUsers(users), (part) => ({ t: 'users-sync', from: this.id, inc: this.incarnation, users: part }), 'users');
    if ([...this.host.appIds()].some((a) => this.host.replicated(a))) {
      this.sendInParts(SHARES_SUBJECT, splitShares(shares), (part) => ({ t: 'shares-sync', from: this.id, inc: this.incarnation, shares: part }), 'presence');
    }
  }

  private sendInParts<T>(subject: string, parts: T[][], message: (part: T[]) => UsersSync | SharesSync, kind: string): void {
    if (parts.length === 1) {
      this.send(subject, message(parts[0]!), kind);
      return;
    }
    const round = String(++this.syncRounds);
    parts.forEach((items, part) => this.send(subject, { ...message(items), round, part, parts: parts.length }, kind));
  }

  private answerRequest(id: string, to: string, query: ClusterQuery): void {
    let ok = true;
    let answer: unknown;
    try {
      answer = this.host.answer(query);
    } catch (err) {
      ok = false;
      this.log?.warn({ err, query: query.q }, 'could not answer a cluster request');
    }
    this.send(inboxSubject(to), { t: 'response', from: this.id, inc: this.incarnation, id, to, ok, answer }, 'response');
  }

  private answerSyncRequest(m: PresenceSyncRequest): void {
    if (!this.interest.has(channelKey(m.app, m.channel))) {
      // Nothing here for that channel; say so on the inbox so the asker need not wait.
      this.send(inboxSubject(m.from), { t: 'response', from: this.id, inc: this.incarnation, id: m.id, to: m.from, ok: true }, 'response');
      return;
    }
    // On the channel's subject, behind any join/leave already sent there: the
    // asker sees this list in the same order as the changes around it.
    const members = this.host.membership(m.app)?.localMembers(m.channel) ?? [];
    this.send(
      this.membershipSubject(m.app, m.channel),
      { t: 'presence-sync', from: this.id, inc: this.incarnation, app: m.app, channel: m.channel, members, id: m.id, to: m.from },
      'presence',
    );
  }

  // ---- presence sync ------------------------------------------------------------

  /** Ask every live node for its members of a channel and wait for the answers (bounded by the request timeout). */
  private async syncPresence(appId: string, channel: string): Promise<void> {
    const peers = this.registry.liveIds();
    if (peers.length === 0 || !this.degraded.linkUp) return;
    await this.requestSync(appId, channel, peers);
  }

  private requestSync(appId: string, channel: string, peers: string[]): Promise<unknown> {
    const id = this.requests.nextId();
    const pending = this.requests.collect(id, peers, this.options.requestTimeoutMs);
    this.send(REQUEST_SUBJECT, { t: 'sync-request', from: this.id, inc: this.incarnation, id, app: appId, channel }, 'request');
    return pending;
  }

  // ---- membership -----------------------------------------------------------------

  private beat(hello = false): void {
    const hb: Heartbeat = {
      t: 'heartbeat',
      from: this.id,
      inc: this.incarnation,
      address: this.options.address,
      load: this.host.load(),
      startedAt: this.startedAt,
      ...(hello ? { hello: true } : {}),
    };
    this.heartbeatSentAt = performance.now();
    this.send(MEMBERSHIP_SUBJECT, hb, 'membership');
    for (const dead of this.registry.expire()) this.nodeDown(dead.id, dead.incarnation, 'timeout', true);
  }

  /** A peer is gone (timeout, goodbye, restart or the leader's verdict). Its members leave once. */
  private nodeDown(id: string, incarnation: string, reason: string, alreadyRemoved = false): void {
    const node = alreadyRemoved ? { id } : this.registry.remove(id, incarnation);
    if (node === undefined) return;
    this.forgetNode(id, incarnation, reason);
    clusterMetrics.nodes.set(this.registry.liveIds().length + 1);
    if (reason === 'timeout' && this.leader.isLeader) {
      // The leader's verdict lets nodes whose clocks lag drop the node now too.
      this.send(
        MEMBERSHIP_SUBJECT,
        { t: 'node-down', from: this.id, inc: this.incarnation, node: id, nodeInc: incarnation, token: this.leader.state.token },
        'membership',
      );
    }
  }

  private forgetNode(id: string, incarnation: string, reason: string): void {
    clusterMetrics.nodesDeclaredDead.inc({ reason });
    this.log?.warn({ nodeId: id, incarnation, reason }, 'cluster node gone: dropping its members and occupancy');
    this.requests.nodeGone(id);
    // Everything it held leaves, each transition once (the model decides which are transitions).
    for (const appId of this.host.appIds()) this.host.membership(appId)?.dropNode(id);
    this.usersSyncParts.forget(id);
    this.sharesSyncParts.forget(id);
  }

  private onLinkChange(change: LinkStateChange): void {
    this.degraded.setLink(change.state);
    clusterMetrics.linkChanges.inc({ state: change.state });
    if (change.state !== 'connected') {
      if (change.state === 'disconnected')
        this.log?.warn({ adapter: this.transport.kind, reason: change.reason }, 'cluster broker link down: delivering locally only');
      return;
    }
    const reconnected = this.everConnected;
    this.everConnected = true;
    this.log?.info({ adapter: this.transport.kind, reconnected }, 'cluster broker link up');
    this.beat(true);
    if (!reconnected) return;
    // Messages were lost while down: tell everyone what we have, and ask what they have.
    this.sendFullLists();
    for (const appId of this.host.appIds()) {
      const model = this.host.membership(appId);
      if (model === undefined || this.host.replicated(appId)) continue;
      for (const channel of model.localPresenceChannels()) {
        const members = model.localMembers(channel);
        this.send(channelSubject(appId, channel), { t: 'presence-sync', from: this.id, inc: this.incarnation, app: appId, channel, members }, 'presence');
      }
    }
    for (const key of this.presence.keys()) void this.syncPresence(...splitKey(key));
  }

  /** The broker did not take a message while the link stayed up: counted, and logged at most once a second. */
  private onRefused(subject: string, reason: string): void {
    clusterMetrics.skipped.inc({ kind: 'refused' });
    this.refusedSinceLog++;
    const now = Date.now();
    if (now - this.refusedLoggedAt < 1000) return;
    this.log?.warn({ subject, reason, messages: this.refusedSinceLog }, 'the broker did not take cluster messages: not delivered to other nodes');
    this.refusedSinceLog = 0;
    this.refusedLoggedAt = now;
  }

  /** Publish one message; counted as skipped when the link is down. */
  private send(subject: string, message: ClusterMessage, kind: string): boolean {
    if (this.transport.publish(subject, encodeMessage(message))) return true;
    clusterMetrics.skipped.inc({ kind });
    return false;
  }
}

function channelKey(appId: string, channel: string): string {
  return `${appId}\n${channel}`;
}

function splitKey(key: string): [string, string] {
  const at = key.indexOf('\n');
  return [key.slice(0, at), key.slice(at + 1)];
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
