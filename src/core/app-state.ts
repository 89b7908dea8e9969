import { LRUCache } from 'lru-cache';
import type { AppConfig } from '../config/schema.js';
import { metrics } from '../metrics/index.js';
import type { Channel } from './channel.js';
import type { ClusterLink } from './cluster-link.js';
import type { Connection } from './connection.js';
import { AppMembership } from './membership.js';
import { ChannelTaps } from './taps.js';
import type { AppWebhooks } from './webhook-events.js';
import type { AppHistory } from '../history/app-history.js';

/** The in-memory state of one app on this node. */
export class AppState {
  /** Channels with subscribers on this node. */
  readonly channels = new Map<string, Channel>();
  /** Signed-in user id → that user's sockets on this node. */
  readonly users = new Map<string, Set<Connection>>();
  /** User id → sockets whose watchlist names that user. */
  readonly watchers = new Map<string, Set<Connection>>();
  /** Who is where, cluster-wide: the one owner of every membership transition. */
  readonly membership = new AppMembership();
  /** Cache channels: channel name → the last event's JSON. Kept while the channel is vacant too. */
  readonly cache: LRUCache<string, string>;
  connectionCount = 0;
  /** The other nodes, when this node is clustered; null when it is alone. */
  cluster: ClusterLink | null = null;
  /** Observers of channels that are not subscribers (the dashboard); null until the first one. */
  taps: ChannelTaps | null = null;
  /** This app's webhook events; null when it has no webhook endpoints. */
  webhooks: AppWebhooks | null = null;
  /** This app's channel history; null when it has no history rules. */
  history: AppHistory | null = null;
  /** This app's labelled metric children, resolved once (label hashing per connect adds up). */
  readonly gauges: {
    readonly connections: ReturnType<typeof metrics.connections.labels>;
    readonly newConnections: ReturnType<typeof metrics.newConnections.labels>;
    readonly channels: ReturnType<typeof metrics.channels.labels>;
  };

  constructor(
    readonly config: AppConfig,
    cache: { ttlSeconds: number; maxChannels: number },
  ) {
    this.cache = new LRUCache<string, string>({ max: cache.maxChannels, ttl: cache.ttlSeconds * 1000, ttlAutopurge: false });
    this.gauges = {
      connections: metrics.connections.labels({ app_id: config.id }),
      newConnections: metrics.newConnections.labels({ app_id: config.id }),
      channels: metrics.channels.labels({ app_id: config.id }),
    };
  }

  /** Observe a channel's events without subscribing to it; returns the function that stops. */
  tap(channel: string, listener: (json: string) => void): () => void {
    this.taps ??= new ChannelTaps(() => {
      const cluster = this.cluster;
      return cluster === null ? null : { tap: (c) => cluster.tap(this.config.id, c), untap: (c) => cluster.untap(this.config.id, c) };
    });
    return this.taps.add(channel, listener);
  }

  /** Whether this app's every membership change travels to every node (its webhooks need the whole picture). */
  get replicated(): boolean {
    return this.config.webhooks.length > 0;
  }
}
