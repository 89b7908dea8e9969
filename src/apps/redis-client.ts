import { Redis } from 'ioredis';
import { splitRedisUrls } from '../adapters/create.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../util/logger.js';

/**
 * The Redis the app cache (L2) and the API rate limits share: the first
 * `redis://` or `rediss://` URL when the Redis adapter is on; null otherwise
 * (then the cache has no L2 and rate limits count per node). Sentinel and
 * Redis Cluster URLs are not used for this (logged once).
 */
export function appsRedis(config: Pick<Config, 'adapter' | 'redisUrl'>, log: Logger): Redis | null {
  if (config.adapter !== 'redis') return null;
  const first = splitRedisUrls(config.redisUrl)[0];
  if (first === undefined) return null;
  if (!/^rediss?:\/\//i.test(first)) {
    log.warn({ url: first.replace(/\/\/[^@/]*@/, '//***@') }, 'app cache L2 and cluster-wide rate limits need a plain redis:// URL: using per-node ones');
    return null;
  }
  const redis = new Redis(first, { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 });
  redis.on('error', () => undefined);
  return redis;
}
