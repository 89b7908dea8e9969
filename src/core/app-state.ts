import { LRUCache } from 'lru-cache';
import type { AppConfig } from '../config/schema.js';
import type { Channel } from './channel.js';
import type { ClusterLink } from './cluster-link.js';
import type { Connection } from './connection.js';

/** The in-memory state of one app on this node. */
export class AppState {
  readonly channels = new Map<string, Channel>();
  /** Signed-in user id → that user's sockets. */
  readonly users = new Map<string, Set<Connection>>();
  /** User id → sockets whose watchlist names that user. */
  readonly watchers = new Map<string, Set<Connection>>();
  /** Cache channels: channel name → the last event's JSON. Kept while the channel is vacant too. */
  readonly cache: LRUCache<string, string>;
  connectionCount = 0;
  /** The other nodes, when this node is clustered; null when it is alone. */
  cluster: ClusterLink | null = null;

  constructor(
    readonly config: AppConfig,
    cache: { ttlSeconds: number; maxChannels: number },
  ) {
    this.cache = new LRUCache<string, string>({ max: cache.maxChannels, ttl: cache.ttlSeconds * 1000, ttlAutopurge: false });
  }
}
