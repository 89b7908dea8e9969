import { randomBytes } from 'node:crypto';
import type { ClusterTransport, LinkStateChange } from '../adapters/types.js';
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
  type UserChange,
  type UsersSync,
} from './messages.js';
import { clusterMetrics } from './metrics.js';
import { ChannelReplica } from './presence-replica.js';
import { NodeRegistry, type PeerNode } from './registry.js';
import { RemoteUsers } from './remote-users.js';
import { UsersSyncAssembler, splitUsers } from './users-sync.js';
import { RequestTracker } from './requests.js';
import { LEADER_LEASE_KEY, MEMBERSHIP_SUBJECT, REQUEST_SUBJECT, USERS_SUBJECT, channelSubject, inboxSubject } from './subjects.js';

/** What the cluster layer needs from the node it serves (implemented by the core's wiring). */
export interface ClusterHost extends LocalCache {
  /** An event published on another node, for a channel this node has subscribers for. */
  deliver(appId: string, channel: string, json: string, excludeSocketId: string | undefined): void;
  /** A user appeared on the other nodes' side of a presence channel (first node to have them). */
  remoteMemberAdded(appId: string, channel: string, userId: string, userInfo: unknown): void;
  /** A user is on none of the other nodes any more. */
  remoteMemberRemoved(appId: string, channel: string, userId: string): void;
  /** This node's local answer to a query from another node. */
  answer(query: ClusterQuery): unknown;
  /** This node's local members of a presence channel (empty when none). */
  localMembers(appId: string, channel: string): Array<[string, unknown]>;
  /** Presence channels with local members, to announce again after a reconnect. */
  localPresenceChannels(): Array<[string, string]>;
  /** A user signed in on another node and on no node before (for watchlists). */
  remoteUserOnline(appId: string, userId: string): void;
  /** A user is signed in on none of the other nodes any more. */
  remoteUserOffline(appId: string, userId: string): void;
  /** Every user signed in here, as [app id, user id]. */
  localSignedInUsers(): Array<[string, string]>;
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
export interface ClusterMember {
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
  readonly replica: ChannelReplica;
  /** Resolves once the first sync after subscribing is in (or timed out). */
  ready: Promise<void> | null;
}

/**
 * This node's seat in the cluster: heartbeats and the registry, leader
 * election, fan-out of events to the nodes that have subscribers, presence
 * replicas, and cluster-wide requests. Talks to the broker only through a
 * ClusterTransport and to the node only through a ClusterHost.
 */
export class ClusterNode {
  readonly id: string;
  /** This run of the node: lets peers tell a restart from a long pause. */
  readonly incarnation = randomBytes(6).toString('base64url');
  private readonly startedAt = Date.now();
  private readonly registry: NodeRegistry;
  private readonly requests: RequestTracker;
  private readonly leader: LeaderElector;
  readonly degraded: DegradedMode;
  private readonly presence = new Map<string, PresenceInterest>();
  private readonly remoteUsers = new RemoteUsers();
  private readonly usersSyncParts = new UsersSyncAssembler();
  private usersSyncRounds = 0;
  private refusedSinceLog = 0;
  private refusedLoggedAt = 0;
  private readonly cacheLookups: CacheLookups;
  /** Channels subscribed upstream (app + '\n' + channel). */
  private readonly interest = new Set<string>();
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
    });
    this.cacheLookups = new CacheLookups(host, async (app, name) => (await this.query({ q: 'cached-event', app, name })).answers);
    transport.setHandler((subject, payload) => this.receive(payload));
    transport.onStateChange((change) => this.onLinkChange(change));
    transport.onRefused((subject, reason) => this.onRefused(subject, reason));
  }

  /** Join the cluster. Waits for the broker up to `connectWaitMs`, then carries on degraded (it keeps retrying). */
  async start(): Promise<void> {
    // Subscriptions are recorded before connecting: the link makes them on every (re)connect.
    void this.transport.subscribe(MEMBERSHIP_SUBJECT);
    void this.transport.subscribe(REQUEST_SUBJECT);
    void this.transport.subscribe(USERS_SUBJECT);
    void this.transport.subscribe(this.inbox);
    const connected = this.transport.connect().then(() => true);
    const waited = await Promise.race([connected, delay(this.options.connectWaitMs ?? 3000).then(() => false)]);
    if (!waited) this.log?.warn({ adapter: this.transport.kind }, 'cluster broker unreachable at start: running degraded until it answers');
    this.heartbeatTimer = setInterval(() => this.beat(), this.options.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
    this.leader.start();
    clusterMetrics.nodes.set(1);
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

  /** The broker link's state: connecting, connected, disconnected or closed. */
  get linkState(): string {
    return this.transport.state;
  }

  get isLeader(): boolean {
    return this.leader.isLeader;
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
      { id: this.id, address: this.options.address, load: this.host.load(), self: true, leader: this.leader.isLeader, lastSeenMs: 0, startedAt: this.startedAt },
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

  /** The channel got its first local subscriber: subscribe upstream (and sync presence). */
  channelOccupied(appId: string, channel: string, isPresence: boolean): void {
    const key = channelKey(appId, channel);
    if (this.interest.has(key)) return;
    this.interest.add(key);
    const subscribed = this.transport.subscribe(channelSubject(appId, channel));
    if (!isPresence) return;
    const interest: PresenceInterest = { replica: new ChannelReplica(), ready: null };
    this.presence.set(key, interest);
    interest.ready = subscribed.then(() => this.syncPresence(appId, channel)).finally(() => {
      if (this.presence.get(key) === interest) interest.ready = null;
    });
  }

  /** The channel lost its last local subscriber: stop receiving it. */
  channelVacated(appId: string, channel: string): void {
    const key = channelKey(appId, channel);
    if (!this.interest.delete(key)) return;
    this.presence.delete(key);
    this.transport.unsubscribe(channelSubject(appId, channel));
  }

  /** Null when the presence channel's remote members are known; else a promise that resolves when they are. */
  presenceReady(appId: string, channel: string): Promise<void> | null {
    return this.presence.get(channelKey(appId, channel))?.ready ?? null;
  }

  hasRemoteMember(appId: string, channel: string, userId: string): boolean {
    return this.presence.get(channelKey(appId, channel))?.replica.has(userId) === true;
  }

  /** Members of a presence channel on the other nodes, each user once. */
  remoteMembers(appId: string, channel: string): Iterable<[string, unknown]> {
    return this.presence.get(channelKey(appId, channel))?.replica.members() ?? [];
  }

  /** A user's first socket on this node joined a presence channel. */
  localMemberJoined(appId: string, channel: string, userId: string, userInfo: unknown): void {
    this.send(channelSubject(appId, channel), { t: 'presence', from: this.id, inc: this.incarnation, app: appId, channel, op: 'join', user: userId, info: userInfo }, 'presence');
  }

  /** A user's last socket on this node left a presence channel. */
  localMemberLeft(appId: string, channel: string, userId: string): void {
    this.send(channelSubject(appId, channel), { t: 'presence', from: this.id, inc: this.incarnation, app: appId, channel, op: 'leave', user: userId }, 'presence');
  }

  /** Members of a presence channel across the cluster, each user once (for the member limit). */
  memberCount(appId: string, channel: string, local: ReadonlyMap<string, unknown> | undefined): number {
    let count = local?.size ?? 0;
    for (const [userId] of this.remoteMembers(appId, channel)) if (local?.has(userId) !== true) count++;
    return count;
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

  /** A user's first socket on this node signed in. */
  userSignedIn(appId: string, userId: string): void {
    this.send(USERS_SUBJECT, { t: 'user', from: this.id, inc: this.incarnation, app: appId, op: 'online', user: userId }, 'users');
  }

  /** A user's last socket on this node left. */
  userSignedOut(appId: string, userId: string): void {
    this.send(USERS_SUBJECT, { t: 'user', from: this.id, inc: this.incarnation, app: appId, op: 'offline', user: userId }, 'users');
  }

  /** Whether the user is signed in on another node. */
  isUserOnlineElsewhere(appId: string, userId: string): boolean {
    return this.remoteUsers.isOnline(appId, userId);
  }

  /** On how many other nodes the user is signed in, as far as this node has heard (diagnostics). */
  userNodeCountElsewhere(appId: string, userId: string): number {
    return this.remoteUsers.nodesWith(appId, userId);
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
    // Our own messages come back on subjects we also subscribe to.
    if (message.from === this.id) return;
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
      case 'response':
        if (m.to === this.id) this.requests.answer(m.id, m.from, m.ok, m.answer);
        return;
    }
  }

  private onHeartbeat(hb: Heartbeat): void {
    const seen = this.registry.observe(hb);
    if (seen.kind === 'known') {
      // A known node saying hello again has been cut off from the broker: it missed our changes.
      if (hb.hello === true) this.sendUsersSync();
      return;
    }
    if (seen.kind === 'restarted') this.forgetNode(seen.previous.id, seen.previous.incarnation, 'restarted');
    clusterMetrics.nodes.set(this.registry.liveIds().length + 1);
    this.log?.info({ nodeId: hb.from, address: hb.address, restarted: seen.kind === 'restarted' }, 'cluster node joined');
    // Introduce ourselves at once to a newcomer rather than at our next beat.
    if (hb.hello === true) this.beat();
    // A newcomer (or a node back from a broker outage) needs our signed-in users for its watchlists.
    this.sendUsersSync();
    // It may hold members we do not know of (a node back after a pause or a broker outage).
    if (hb.hello !== true) for (const key of this.presence.keys()) this.requestSync(...splitKey(key), [hb.from]);
  }

  private onPresenceChange(m: PresenceChange): void {
    if (this.registry.isDead(m.from, m.inc)) return;
    const interest = this.presence.get(channelKey(m.app, m.channel));
    if (interest === undefined) return;
    if (m.op === 'join') {
      if (interest.replica.join(m.from, m.user, m.info)) this.host.remoteMemberAdded(m.app, m.channel, m.user, m.info);
    } else if (interest.replica.leave(m.from, m.user)) {
      this.host.remoteMemberRemoved(m.app, m.channel, m.user);
    }
  }

  private onPresenceSync(m: PresenceSync): void {
    if (m.to !== undefined && m.to !== this.id) return;
    if (m.id !== undefined) this.requests.answer(m.id, m.from, true, null);
    if (this.registry.isDead(m.from, m.inc)) return;
    const interest = this.presence.get(channelKey(m.app, m.channel));
    if (interest === undefined) return;
    const { added, removed } = interest.replica.replace(m.from, m.members);
    for (const r of removed) this.host.remoteMemberRemoved(m.app, m.channel, r.userId);
    for (const a of added) this.host.remoteMemberAdded(m.app, m.channel, a.userId, a.userInfo);
  }

  private onUserChange(m: UserChange): void {
    if (this.registry.isDead(m.from, m.inc)) return;
    if (m.op === 'online') {
      if (this.remoteUsers.online(m.from, m.app, m.user)) this.host.remoteUserOnline(m.app, m.user);
    } else if (this.remoteUsers.offline(m.from, m.app, m.user)) {
      this.host.remoteUserOffline(m.app, m.user);
    }
  }

  private onUsersSync(m: UsersSync): void {
    if (this.registry.isDead(m.from, m.inc)) return;
    const users = this.usersSyncParts.add(m);
    if (users === null) return;
    const { online, offline } = this.remoteUsers.replaceNode(m.from, users);
    for (const u of offline) this.host.remoteUserOffline(u.appId, u.userId);
    for (const u of online) this.host.remoteUserOnline(u.appId, u.userId);
  }

  /** Tell every node who is signed in here: replaces what they knew of this node. */
  private sendUsersSync(): void {
    const parts = splitUsers(this.host.localSignedInUsers());
    if (parts.length === 1) {
      this.send(USERS_SUBJECT, { t: 'users-sync', from: this.id, inc: this.incarnation, users: parts[0]! }, 'users');
      return;
    }
    const round = String(++this.usersSyncRounds);
    parts.forEach((users, part) => this.send(USERS_SUBJECT, { t: 'users-sync', from: this.id, inc: this.incarnation, users, round, part, parts: parts.length }, 'users'));
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
    const members = this.host.localMembers(m.app, m.channel);
    this.send(channelSubject(m.app, m.channel), { t: 'presence-sync', from: this.id, inc: this.incarnation, app: m.app, channel: m.channel, members, id: m.id, to: m.from }, 'presence');
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
      this.send(MEMBERSHIP_SUBJECT, { t: 'node-down', from: this.id, inc: this.incarnation, node: id, nodeInc: incarnation, token: this.leader.state.token }, 'membership');
    }
  }

  private forgetNode(id: string, incarnation: string, reason: string): void {
    clusterMetrics.nodesDeclaredDead.inc({ reason });
    this.log?.warn({ nodeId: id, incarnation, reason }, 'cluster node gone: dropping its members and occupancy');
    this.requests.nodeGone(id);
    for (const [key, interest] of this.presence) {
      const removed = interest.replica.dropNode(id);
      if (removed.length === 0) continue;
      const [appId, channel] = splitKey(key);
      for (const r of removed) this.host.remoteMemberRemoved(appId, channel, r.userId);
    }
    for (const u of this.remoteUsers.dropNode(id)) this.host.remoteUserOffline(u.appId, u.userId);
    this.usersSyncParts.forget(id);
  }

  private onLinkChange(change: LinkStateChange): void {
    this.degraded.setLink(change.state);
    clusterMetrics.linkChanges.inc({ state: change.state });
    if (change.state !== 'connected') {
      if (change.state === 'disconnected') this.log?.warn({ adapter: this.transport.kind, reason: change.reason }, 'cluster broker link down: delivering locally only');
      return;
    }
    const reconnected = this.everConnected;
    this.everConnected = true;
    this.log?.info({ adapter: this.transport.kind, reconnected }, 'cluster broker link up');
    this.beat(true);
    if (!reconnected) return;
    this.sendUsersSync();
    // Messages were lost while down: tell everyone what we have, and ask what they have.
    for (const [appId, channel] of this.host.localPresenceChannels()) {
      const members = this.host.localMembers(appId, channel);
      this.send(channelSubject(appId, channel), { t: 'presence-sync', from: this.id, inc: this.incarnation, app: appId, channel, members }, 'presence');
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
