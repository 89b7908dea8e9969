import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import type { Config } from '../config/schema.js';
import { countLimitTrip, countProtocolError, metrics, type LimitName } from '../metrics/index.js';
import { CloseCode, WsCloseCode } from '../protocol/codes.js';
import { SwitchboardError, ErrorCode } from '../protocol/errors.js';
import { connectionEstablished, encodeEvent, pusherError, pusherPing, pusherPong, parseClientFrame } from '../protocol/frames.js';
import { createSocketId } from '../protocol/socket-id.js';
import { frameText } from '../transport/frame.js';
import { closePeer, closePeerFor, notePublished, send, sendFrame } from '../transport/outbound.js';
import type { Peer, PeerContext, TransportHooks } from '../transport/peer.js';
import type { Logger } from '../util/logger.js';
import { admit } from './admission.js';
import { AppState } from './app-state.js';
import { relayClientEvent } from './client-events.js';
import { Connection } from './connection.js';
import type { ClusterLink } from './cluster-link.js';
import { deliverToChannel } from './delivery.js';
import { clientFrames } from './membership-frames.js';
import { leaveAll, subscribe, unsubscribe } from './subscriptions.js';
import { AppWebhooks } from './webhook-events.js';
import { noWebhooks, type WebhookSink } from '../webhooks/types.js';
import { LocalReads, type ChannelDetail } from './local-reads.js';
import { signIn, signOut } from './users.js';
import type { ChannelSnapshot, CoreApi, PublishRequest } from './types.js';
import type { NodeHistory } from '../history/index.js';

const PING_FRAME = frameText(pusherPing());
const PONG_FRAME = frameText(pusherPong());

/**
 * The node's in-memory state and the rules of the Pusher protocol: who may
 * connect, subscribe, publish, and who receives what. No network I/O of its
 * own: it queues frames through the transport's outbound functions.
 */
// The sweep's closes, each the trip of the option that sets its deadline.
const SWEEP_LIMITS = {
  [ErrorCode.PongTimeout]: 'pongTimeout',
  [ErrorCode.InactivityTimeout]: 'inactivityTimeout',
  [ErrorCode.SigninTimeout]: 'userAuthenticationTimeout',
} as const satisfies Record<string, LimitName>;
type SweepCloseCode = keyof typeof SWEEP_LIMITS;

export class NodeCore implements CoreApi, TransportHooks {
  private readonly appsById = new Map<string, AppState>();
  private readonly appsByKey = new Map<string, AppState>();
  /** Every open connection, for the keep-alive sweep and draining. */
  readonly connections = new Set<Connection>();
  private readonly peerContext: PeerContext;
  /** This node's own state, read one way for the HTTP API and for the other nodes' queries. */
  readonly reads: LocalReads;
  private sweepTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    webhooks: WebhookSink = noWebhooks,
  ) {
    for (const appConfig of config.apps) {
      const app = new AppState(appConfig, { ttlSeconds: config.cacheTtlSeconds, maxChannels: config.maxCachedChannels });
      app.membership.observe(clientFrames(app));
      if (appConfig.webhooks.length > 0) {
        app.webhooks = new AppWebhooks(appConfig.id, app.membership, webhooks, {
          leaveDelayMs: config.webhookLeaveDelay * 1000,
          countsSubscriptions: appConfig.enableSubscriptionCount,
          // Alone, this node sends; in a cluster, the leader does.
          sends: () => app.cluster === null || app.cluster.isLeader,
          // A dead leader is replaced within its lease; its last heartbeat is at most a node timeout old by then.
          keepUnsentMs: (config.leaderLease + config.nodeTimeout + config.heartbeatInterval) * 1000,
        });
        app.membership.observe(app.webhooks);
      }
      this.appsById.set(appConfig.id, app);
      this.appsByKey.set(appConfig.key, app);
    }
    this.reads = new LocalReads(this.appsById);
    this.peerContext = { hooks: this, maxSendBufferBytes: config.maxSendBufferBytes, writeCoalesceMs: config.writeCoalesceMs, writeCoalesceMinRate: config.writeCoalesceMinRate };
  }

  /** Start the once-a-second keep-alive sweep. */
  start(): void {
    this.sweepTimer ??= setInterval(() => this.sweep(), 1000);
    this.sweepTimer.unref();
  }

  stop(): void {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    for (const app of this.appsById.values()) app.webhooks?.stop(app.cluster === null);
  }

  // ---- transport hooks -------------------------------------------------

  /** Admit or refuse a freshly opened WebSocket. */
  readonly admit = (ws: WebSocket, req: IncomingMessage): Peer | null => {
    const decision = admit(req, this.appsByKey, this.connections.size, this.config.maxConnections);
    if (!decision.ok) {
      const { error } = decision;
      if (error.closeCode === CloseCode.OverCapacity) countLimitTrip('maxConnections');
      if (error.closeCode === CloseCode.AppOverConnectionQuota) countLimitTrip('app.maxConnections');
      metrics.disconnections.inc({ code: String(error.closeCode) });
      this.log.info({ code: error.closeCode, reason: error.message, url: req.url?.slice(0, 200) }, 'connection refused');
      ws.send(pusherError(error.closeCode ?? null, error.message));
      ws.close(error.closeCode, error.message.slice(0, 120));
      return null;
    }
    const app = decision.app;
    const conn = new Connection(createSocketId(), ws, this.peerContext, Date.now(), app);
    this.connections.add(conn);
    app.connectionCount++;
    app.gauges.connections.inc();
    app.gauges.newConnections.inc();
    send(conn, connectionEstablished(conn.id, this.config.activityTimeout));
    return conn;
  };

  message(peer: Peer, data: Buffer, isBinary: boolean): void {
    const conn = peer as Connection;
    conn.lastSeen = Date.now();
    conn.pingSentAt = 0;
    metrics.messagesIn.inc();
    metrics.bytesIn.inc(data.length);
    if (isBinary) {
      this.reject(conn, new SwitchboardError(ErrorCode.BinaryNotSupported));
      return;
    }
    try {
      this.dispatch(conn, data.toString('utf8'));
    } catch (err) {
      // A fault in one socket's handling stays with that socket.
      metrics.handlerFaults.inc();
      this.log.error({ err, socketId: conn.id }, 'fault while handling a client message; closing that socket');
      closePeer(conn, WsCloseCode.InternalError, 'internal error');
    }
  }

  closed(peer: Peer): void {
    const conn = peer as Connection;
    if (!this.connections.delete(conn)) return;
    const app = conn.app;
    app.connectionCount--;
    app.gauges.connections.dec();
    try {
      leaveAll(conn);
      signOut(conn);
    } catch (err) {
      metrics.handlerFaults.inc();
      this.log.error({ err, socketId: conn.id }, 'fault while cleaning up a closed connection');
    }
  }

  private dispatch(conn: Connection, text: string): void {
    const parsed = parseClientFrame(text);
    if (!parsed.ok) {
      this.reject(conn, parsed.error);
      return;
    }
    const message = parsed.message;
    switch (message.kind) {
      case 'ping':
        sendFrame(conn, PONG_FRAME);
        return;
      case 'pong':
        return;
      case 'subscribe':
        subscribe(conn, message);
        return;
      case 'unsubscribe':
        unsubscribe(conn, message.channel);
        return;
      case 'signin': {
        const error = signIn(conn, message.auth, message.userData, conn.lastSeen);
        if (error !== null) this.reject(conn, error);
        return;
      }
      case 'client-event': {
        const error = relayClientEvent(conn, message, conn.lastSeen);
        if (error !== null) this.reject(conn, error);
        return;
      }
      case 'unknown':
        this.reject(conn, new SwitchboardError(ErrorCode.UnknownEvent, message.event.slice(0, 200)));
        return;
    }
  }

  /** Answer a bad message with pusher:error; the connection stays open. */
  private reject(conn: Connection, error: SwitchboardError): void {
    countProtocolError(error);
    this.log.debug({ socketId: conn.id, code: error.code, reason: error.message }, 'client message refused');
    send(conn, pusherError(error.pusherCode ?? null, error.message));
  }

  // ---- keep-alive and limits ------------------------------------------------

  private sweep(): void {
    // Timestamps are Date.now(); limits are seconds. The sweep runs once a
    // second, so a limit trips up to a second late, never early.
    const now = Date.now();
    const activityTimeout = this.config.activityTimeout * 1000;
    const pongTimeout = this.config.pongTimeout * 1000;
    const inactivityTimeout = this.config.inactivityTimeout * 1000;
    for (const conn of this.connections) {
      if (!conn.open) continue;
      if (conn.pingSentAt !== 0) {
        if (now - conn.pingSentAt >= pongTimeout) this.closeFor(conn, ErrorCode.PongTimeout);
        continue;
      }
      if (inactivityTimeout > 0 && now - conn.lastActionAt >= inactivityTimeout) {
        this.closeFor(conn, ErrorCode.InactivityTimeout);
        continue;
      }
      const signinTimeout = conn.app.config.userAuthenticationTimeout * 1000;
      if (signinTimeout > 0 && conn.user === null && now - conn.connectedAt >= signinTimeout) {
        this.closeFor(conn, ErrorCode.SigninTimeout);
        continue;
      }
      if (now - conn.lastSeen >= activityTimeout) {
        conn.pingSentAt = now;
        sendFrame(conn, PING_FRAME);
      }
    }
  }

  private closeFor(conn: Connection, code: SweepCloseCode): void {
    countLimitTrip(SWEEP_LIMITS[code]);
    closePeerFor(conn, new SwitchboardError(code));
  }

  /**
   * Ask every client to reconnect (4200), spread over `seconds` so that they
   * do not all arrive at the other nodes at once. Resolves when all are gone.
   */
  async drain(seconds: number): Promise<void> {
    const pending = [...this.connections];
    const shuttingDown = new SwitchboardError(ErrorCode.ServerShuttingDown);
    const steps = Math.max(1, Math.ceil(seconds * 10));
    const perStep = Math.max(1, Math.ceil(pending.length / steps));
    for (let i = 0; i < pending.length; i += perStep) {
      for (const conn of pending.slice(i, i + perStep)) closePeerFor(conn, shuttingDown);
      if (i + perStep < pending.length) await delay(100);
    }
    const deadline = Date.now() + 3000;
    while (this.connections.size > 0 && Date.now() < deadline) await delay(20);
    for (const conn of this.connections) conn.ws.terminate();
  }

  // ---- CoreApi (HTTP API) ------------------------------------------------

  findApp(id: string): AppState | undefined {
    return this.appsById.get(id);
  }

  /** Apps by id, for the cluster layer's view of this node. */
  get apps(): ReadonlyMap<string, AppState> {
    return this.appsById;
  }

  /** Join a cluster: from now on every app's channels, presence and events reach the other nodes. */
  attachCluster(link: ClusterLink): void {
    for (const app of this.appsById.values()) {
      app.cluster = link;
      app.membership.announceTo(link.announcerFor(app.config.id));
    }
    // A new leader sends what the cluster computed since the old one was last seen alive.
    link.onBecameLeader((since) => {
      for (const app of this.appsById.values()) app.webhooks?.takeOver(since);
    });
  }

  /** Give every app its channel history (the node's store); apps without rules keep none. */
  useHistory(history: NodeHistory): void {
    for (const app of this.appsById.values()) app.history = history.attach(app);
  }

  /** A promise only when a history channel's store appends asynchronously (Redis): it rejects when an event was not published. */
  publish(req: PublishRequest): void | Promise<void> {
    const startedAt = performance.now();
    const app = req.app;
    const cluster = app.cluster;
    let appended: Array<Promise<void>> | undefined;
    for (const channel of req.channels) {
      const json = encodeEvent(req.event, req.data, channel.name);
      // History channels are delivered by their store, in offset order, on every node.
      const rule = app.history?.ruleFor(channel.name) ?? null;
      if (rule !== null) {
        const done = app.history!.append(channel.name, rule, json, req.excludeSocketId);
        if (done !== undefined) (appended ??= []).push(done);
        continue;
      }
      deliverToChannel(app, channel.name, json, channel.kind.cache, req.excludeSocketId);
      cluster?.publish(app.config.id, channel.name, json, req.excludeSocketId);
    }
    metrics.publishes.inc({ source: 'api' }, req.channels.length);
    notePublished(startedAt);
    if (appended !== undefined) return Promise.all(appended).then(() => undefined);
  }

  async listChannels(app: AppState, prefix?: string): Promise<ChannelSnapshot[]> {
    return this.reads.channelDetails(app.config.id, prefix).map(toSnapshot);
  }

  async getChannel(app: AppState, name: string): Promise<ChannelSnapshot | undefined> {
    const detail = this.reads.channelDetail(app.config.id, name);
    return detail === undefined ? undefined : toSnapshot(detail);
  }

  async getChannels(app: AppState, names: readonly string[]): Promise<Map<string, ChannelSnapshot>> {
    return new Map(this.reads.channelDetailsNamed(app.config.id, names).map((d) => [d.name, toSnapshot(d)]));
  }

  async hasCachedEvent(app: AppState, name: string): Promise<boolean> {
    return this.reads.hasCachedEvent(app.config.id, name);
  }

  async presenceUserIds(app: AppState, name: string): Promise<string[]> {
    return this.reads.presenceUserIds(app.config.id, name);
  }

  async terminateUserConnections(app: AppState, userId: string): Promise<void> {
    this.reads.terminateUser(app.config.id, userId);
  }
}

/** A channel as the HTTP API reports it: user ids become a count. */
export function toSnapshot(detail: ChannelDetail): ChannelSnapshot {
  return detail.userIds !== undefined
    ? { name: detail.name, subscriptionCount: detail.subscriptionCount, userCount: detail.userIds.length }
    : { name: detail.name, subscriptionCount: detail.subscriptionCount };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
