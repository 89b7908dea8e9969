import { LRUCache } from 'lru-cache';
import type { AppConfig } from '../config/schema.js';
import type { Channel } from './channel.js';
import type { Connection } from './connection.js';

/** Most cache channels one app keeps a last event for; the least recently used go first. */
const MAX_CACHED_CHANNELS_PER_APP = 10_000;

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

  constructor(
    readonly config: AppConfig,
    cacheTtlSeconds: number,
  ) {
    this.cache = new LRUCache<string, string>({ max: MAX_CACHED_CHANNELS_PER_APP, ttl: cacheTtlSeconds * 1000, ttlAutopurge: false });
  }
}
