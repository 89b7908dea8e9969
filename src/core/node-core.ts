import type { IncomingMessage } from 'node:http';
import type { Config } from '../config/schema.js';
import { countLimitTrip, countProtocolError, metrics, monitorMetrics, type LimitName } from '../metrics/index.js';
import { CloseCode, WsCloseCode } from '../protocol/codes.js';
import { SwitchboardError, ErrorCode } from '../protocol/errors.js';
import { connectionEstablished, encodeEvent, pusherError, pusherPing, pusherPong, parseClientFrame } from '../protocol/frames.js';
import { createSocketId } from '../protocol/socket-id.js';
import type { NodeTransport, TransportHooks } from '../transport/types.js';
import type { Logger } from '../util/logger.js';
import { admit } from './admission.js';
import type { AppState } from './app-state.js';
import { AdmissionKeyLookup, LiveApps } from '../apps/live-apps.js';
import type { AppCatalog } from '../apps/catalog.js';
import { relayClientEvent } from './client-events.js';
import { Connection } from './connection.js';
import { close, closeFor, send } from './outbox.js';
import type { ClusterLink } from './cluster-link.js';
import { deliverToChannel } from './delivery.js';
import { leaveAll, subscribe, unsubscribe } from './subscriptions.js';
import { noWebhooks, type WebhookSink } from '../webhooks/types.js';
import { LocalReads, type ChannelDetail } from './local-reads.js';
import { signIn, signOut } from './users.js';
import type { ChannelSnapshot, CoreApi, PublishRequest } from './types.js';
import type { NodeHistory } from '../history/index.js';
import { spreadOver } from '../util/spread.js';

const PING_JSON = pusherPing();
const PONG_JSON = pusherPong();

/**
 * The node's in-memory state and the rules of the Pusher protocol: who may
 * connect, subscribe, publish, and who receives what. No network I/O of its
 * own: it hands JSON to the node's transport (`NodeTransport`).
 */
// The sweep's closes, each the trip of the option that sets its deadline.
const SWEEP_LIMITS = {
  [ErrorCode.PongTimeout]: 'pongTimeout',
  [ErrorCode.InactivityTimeout]: 'inactivityTimeout',
  [ErrorCode.SigninTimeout]: 'userAuthenticationTimeout',
} as const satisfies Record<string, LimitName>;
type SweepCloseCode = keyof typeof SWEEP_LIMITS;

/** Why the node refuses new connections for load: the critical signal and its reason. */
export interface LoadRefusal {
  signal: string;
  reason: string;
}

/** What admission applies beyond the apps' own rules: the node's connection limit and its load verdict. */
export interface AdmissionGate {
  /** 0 = no limit. */
  readonly maxConnections: number;
  /** Why load refuses new WebSockets now (4100): the critical signal and a reason; null while the node accepts. */
  loadRefusal(): LoadRefusal | null;
}

export class NodeCore implements CoreApi, TransportHooks<Connection> {
  /** The apps live on this node and the way to them (src/apps): map reads with the static store, a cache over the database otherwise. */
  readonly live: LiveApps;
  private readonly appsById: ReadonlyMap<string, AppState>;
  private readonly keyLookup: AdmissionKeyLookup;
  /** Every open connection, for the keep-alive sweep and draining. */
  readonly connections = new Set<Connection>();
  /** This node's own state, read one way for the HTTP API and for the other nodes' queries. */
  readonly reads: LocalReads;
  private sweepTimer: NodeJS.Timeout | null = null;
  /** The node's connection limit and load gate (src/monitor); until set, `maxConnections` alone. */
  private gate: AdmissionGate;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    /** The node's own transport (one per node, never shared between nodes of a process). */
    readonly transport: NodeTransport,
    webhooks: WebhookSink = noWebhooks,
    catalog: AppCatalog | null = null,
  ) {
    this.live = new LiveApps(config, webhooks, log, catalog, transport, () => this.connections);
    // With the static store every app is live from the start; a database store's apps become live on first use.
    if (catalog === null) for (const appConfig of config.apps) this.live.materialize(appConfig);
    this.appsById = this.live.byId;
    this.keyLookup = new AdmissionKeyLookup(this.live);
    this.reads = new LocalReads(this.appsById);
    this.gate = { maxConnections: config.maxConnections, loadRefusal: () => null };
  }

  /** Set the connection limit and the load verdict admission applies (the monitor's; src/monitor). */
  setAdmissionGate(gate: AdmissionGate): void {
    this.gate = gate;
  }

  /** Start the once-a-second keep-alive sweep. */
  start(): void {
    this.sweepTimer ??= setInterval(() => this.sweep(), 1000);
    this.sweepTimer.unref();
    this.live.start();
  }

  stop(): void {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.live.stop();
    for (const app of this.appsById.values()) app.webhooks?.stop(app.cluster === null);
  }

  // ---- transport hooks -------------------------------------------------

  /** Admit or refuse a freshly opened WebSocket. */
  /**
   * Admit or refuse a freshly opened WebSocket: synchronous when the app is
   * known without asking the store (always with the static store, a cache
   * hit otherwise); on a miss, a promise that settles once the store answered.
   */
  readonly admit = (link: object, req: IncomingMessage): Connection | null | Promise<Connection | null> => {
    this.keyLookup.missed = null;
    const load = this.gate.loadRefusal();
    const decision = this.decide(req, load);
    const missed = this.keyLookup.missed;
    if (!decision.ok && missed !== null) return this.admitAfterLookup(link, req, missed);
    return this.settle(link, req, decision, load);
  };

  private decide(req: IncomingMessage, load: LoadRefusal | null): ReturnType<typeof admit> {
    return admit(req, this.keyLookup, this.connections.size, this.gate.maxConnections, load === null ? null : load.reason);
  }

  private async admitAfterLookup(link: object, req: IncomingMessage, key: string): Promise<Connection | null> {
    const app = await this.live.findByKey(key);
    // The client may have gone while the store answered.
    if (this.transport.linkOpen?.(link) === false) return null;
    // The load may have changed while the store answered: decide on the current one.
    const load = this.gate.loadRefusal();
    const decision = this.keyLookup.withAnswer(key, app, () => this.decide(req, load));
    return this.settle(link, req, decision, load);
  }

  private settle(link: object, req: IncomingMessage, decision: ReturnType<typeof admit>, load: LoadRefusal | null): Connection | null {
    if (!decision.ok) {
      const { error } = decision;
      if (decision.overCapacity === 'maxConnections') countLimitTrip('maxConnections');
      if (decision.overCapacity === 'load' && load !== null) monitorMetrics.admissionRefused.inc({ signal: load.signal });
      if (error.closeCode === CloseCode.AppOverConnectionQuota) countLimitTrip('app.maxConnections');
      metrics.disconnections.inc({ code: String(error.closeCode) });
      this.log.info({ code: error.closeCode, reason: error.message, url: req.url?.slice(0, 200) }, 'connection refused');
      this.transport.refuse(link, pusherError(error.closeCode ?? null, error.message), error.closeCode ?? WsCloseCode.InternalError, error.message);
      return null;
    }
    const app = decision.app;
    const conn = new Connection(createSocketId(), link, Date.now(), app);
    this.connections.add(conn);
    app.connectionCount++;
    app.gauges.connections.inc();
    app.gauges.newConnections.inc();
    send(conn, connectionEstablished(conn.id, this.config.activityTimeout));
    return conn;
  }

  message(conn: Connection, data: Buffer, isBinary: boolean): void {
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
      close(conn, WsCloseCode.InternalError, 'internal error');
    }
  }

  closed(conn: Connection): void {
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
        send(conn, PONG_JSON);
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
        send(conn, PING_JSON);
      }
    }
  }

  private closeFor(conn: Connection, code: SweepCloseCode): void {
    countLimitTrip(SWEEP_LIMITS[code]);
    closeFor(conn, new SwitchboardError(code));
  }

  /**
   * Ask every client to reconnect (4200), spread over `seconds` so that they
   * do not all arrive at the other nodes at once. Resolves when all are gone.
   */
  async drain(seconds: number): Promise<void> {
    const shuttingDown = new SwitchboardError(ErrorCode.ServerShuttingDown);
    await spreadOver([...this.connections], seconds, (conn) => closeFor(conn, shuttingDown));
    const deadline = Date.now() + 3000;
    while (this.connections.size > 0 && Date.now() < deadline) await delay(20);
    for (const conn of this.connections) this.transport.terminate(conn);
  }

  // ---- CoreApi (HTTP API) ------------------------------------------------

  findApp(id: string): AppState | undefined | Promise<AppState | undefined> {
    const peeked = this.live.peekId(id);
    if (peeked !== undefined) return peeked ?? undefined;
    return this.live.findById(id).then((app) => app ?? undefined);
  }

  /** Apps by id, for the cluster layer's view of this node. */
  get apps(): ReadonlyMap<string, AppState> {
    return this.appsById;
  }

  /** Join a cluster: from now on every app's channels, presence and events reach the other nodes. */
  attachCluster(link: ClusterLink): void {
    this.live.attachCluster(link);
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
    this.transport.notePublished(startedAt);
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
