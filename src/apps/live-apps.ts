import type { AppConfig } from '../config/schema.js';
import { buildAppState, joinAppToCluster, type AppWiring } from '../core/app-wiring.js';
import type { AppState } from '../core/app-state.js';
import type { ClusterLink } from '../core/cluster-link.js';
import type { Connection } from '../core/connection.js';
import { metrics } from '../metrics/index.js';
import { ErrorCode, SwitchboardError } from '../protocol/errors.js';
import { closeFor } from '../core/outbox.js';
import type { NodeTransport } from '../transport/types.js';
import type { Logger } from '../util/logger.js';
import type { WebhookSink } from '../webhooks/types.js';
import type { Config } from '../config/schema.js';
import type { AppCatalog } from './catalog.js';

/**
 * The apps live on this node (those with state here) and the way to them
 * from a key or an id. With the static store every app is live from the
 * start and lookups are map reads; with a database store an app becomes
 * live on its first connection or API call, through the catalog's cache,
 * and a change announced for it is applied in place: its connections and
 * channels stay, its new settings apply, a disabled or deleted app's
 * connections are closed with 4003.
 */
export class LiveApps {
  readonly byId = new Map<string, AppState>();
  readonly byKey = new Map<string, AppState>();
  private cluster: ClusterLink | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly config: Config,
    private readonly webhooks: WebhookSink,
    private readonly log: Logger,
    /** Null with the static store: the config's apps are all there is. */
    readonly catalog: AppCatalog | null,
    private readonly transport: NodeTransport,
    private readonly connections: () => Iterable<Connection>,
  ) {}

  private wiring(): AppWiring {
    return { config: this.config, webhooks: this.webhooks, cluster: this.cluster, transport: this.transport };
  }

  /** The key's app when known without waiting; null when known to be unknown; undefined when only the store can tell. */
  peekKey(key: string): AppState | null | undefined {
    if (this.catalog === null) return this.byKey.get(key) ?? null;
    const config = this.catalog.peekKey(key);
    return config === undefined || config === null ? config : this.materialize(config);
  }

  peekId(id: string): AppState | null | undefined {
    if (this.catalog === null) return this.byId.get(id) ?? null;
    const config = this.catalog.peekId(id);
    return config === undefined || config === null ? config : this.materialize(config);
  }

  async findByKey(key: string): Promise<AppState | null> {
    const peeked = this.peekKey(key);
    if (peeked !== undefined) return peeked;
    const config = await this.catalog!.byKeyAsync(key);
    return config === null ? null : this.materialize(config);
  }

  async findById(id: string): Promise<AppState | null> {
    const peeked = this.peekId(id);
    if (peeked !== undefined) return peeked;
    const config = await this.catalog!.byIdAsync(id);
    return config === null ? null : this.materialize(config);
  }

  /** The app's live state, created on first use; a newer definition is applied to it. */
  materialize(config: AppConfig): AppState {
    const existing = this.byId.get(config.id);
    if (existing !== undefined) {
      if (existing.config !== config) this.apply(existing, config);
      return existing;
    }
    // A store's app tells the webhook pipeline its endpoints (configured apps are known to it from the start).
    if (this.catalog !== null && config.webhooks.length > 0) this.webhooks.setApp?.(config);
    const app = buildAppState(config, this.wiring());
    this.byId.set(config.id, app);
    this.byKey.set(config.key, app);
    if (this.cluster !== null) this.cluster.appAdded?.(config.id);
    return app;
  }

  /** Join a cluster: every live app, and those that become live later. */
  attachCluster(link: ClusterLink): void {
    this.cluster = link;
    for (const app of this.byId.values()) joinAppToCluster(app, link);
  }

  private apply(app: AppState, next: AppConfig): void {
    const previous = app.config;
    app.config = next;
    if (previous.key !== next.key) {
      if (this.byKey.get(previous.key) === app) this.byKey.delete(previous.key);
      this.byKey.set(next.key, app);
    }
    if (JSON.stringify(previous.webhooks) !== JSON.stringify(next.webhooks)) {
      this.webhooks.setApp?.(next);
      // Whether the app has webhooks at all decides its membership wiring (replicated or not), made once.
      if ((previous.webhooks.length === 0) !== (next.webhooks.length === 0)) {
        this.log.warn({ appId: next.id }, 'app webhooks turned on or off: the change takes effect when the node restarts (endpoint changes apply at once)');
      }
    }
    if (previous.enabled && !next.enabled) {
      const closed = this.closeConnections(app, new SwitchboardError(ErrorCode.AppDisabled));
      this.log.info({ appId: next.id, closed }, 'app disabled: its connections closed with 4003');
    }
  }

  /**
   * The store says the app changed (the cluster bus, the admin API, or this
   * node's own refresh): drop the cached copy and, if the app is live here,
   * read it again and apply it (gone: its connections close with 4003).
   */
  async changed(id: string, keys: readonly string[]): Promise<void> {
    if (this.catalog === null) return;
    metrics.appChanges.inc();
    this.catalog.invalidate(id, keys);
    const app = this.byId.get(id);
    if (app === undefined) return;
    const next = await this.catalog.byIdAsync(id);
    if (next === null) {
      // Still there but unreadable (store down): keep serving it as it was.
      if (this.catalog.status().up === false) return;
      this.remove(app);
      return;
    }
    this.materialize(next);
  }

  private remove(app: AppState): void {
    this.byId.delete(app.config.id);
    if (this.byKey.get(app.config.key) === app) this.byKey.delete(app.config.key);
    app.webhooks?.stop(app.cluster === null);
    const closed = this.closeConnections(app, new SwitchboardError(ErrorCode.AppDisabled, 'app deleted'));
    this.log.info({ appId: app.config.id, closed }, 'app deleted: its connections closed with 4003');
  }

  private closeConnections(app: AppState, error: SwitchboardError): number {
    let closed = 0;
    for (const conn of this.connections()) {
      if (conn.app !== app || !conn.open) continue;
      closeFor(conn, error);
      closed++;
    }
    return closed;
  }

  /**
   * Without a broker nothing announces changes: every live app is read again
   * once its cache entry has expired, so a change reaches this node within
   * about a TTL (a disable closes its connections then).
   */
  start(): void {
    if (this.catalog === null || this.refreshTimer !== null) return;
    const catalog = this.catalog;
    this.refreshTimer = setInterval(
      () => {
        for (const app of this.byId.values()) {
          if (catalog.peekId(app.config.id) !== undefined) continue;
          void catalog.byIdAsync(app.config.id).then((next) => {
            if (next !== null) this.materialize(next);
            else if (catalog.status().up && this.byId.get(app.config.id) === app) this.remove(app);
          });
        }
      },
      Math.max(100, this.config.appCacheTtl * 1000),
    );
    this.refreshTimer.unref();
  }

  stop(): void {
    if (this.refreshTimer !== null) clearInterval(this.refreshTimer);
    this.refreshTimer = null;
  }
}

/**
 * The key lookup admission runs: synchronous, and a miss (only the store can
 * tell) is remembered in `missed` so that the caller can wait for the store
 * and run admission again. One object per node, no allocation per connect.
 */
export class AdmissionKeyLookup {
  missed: string | null = null;
  /** The store's answer for the key of a second admission run (a stale copy served during an outage is not in L1 as fresh). */
  private answered: { key: string; app: AppState | null } | null = null;

  constructor(private readonly live: LiveApps) {}

  /** Run `decide` with the store's answer for `key` standing in for the cache. */
  withAnswer<T>(key: string, app: AppState | null, decide: () => T): T {
    this.answered = { key, app };
    try {
      return decide();
    } finally {
      this.answered = null;
    }
  }

  get(key: string): AppState | undefined {
    if (this.answered !== null && this.answered.key === key) return this.answered.app ?? undefined;
    const app = this.live.peekKey(key);
    if (app === undefined) {
      this.missed = key;
      return undefined;
    }
    return app ?? undefined;
  }
}
