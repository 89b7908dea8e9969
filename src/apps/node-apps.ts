import type { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';
import type { Logger } from '../util/logger.js';
import { AppCatalog } from './catalog.js';
import { createAppStore } from './create.js';
import { AppL2 } from './l2.js';
import { AppManager, type AnnounceChange } from './manage.js';
import { ApiRateLimits } from './rate-limits.js';
import { appsRedis } from './redis-client.js';
import type { AppStore } from './types.js';

/** Everything a node needs of the apps module. */
export interface NodeApps {
  readonly store: AppStore;
  /** Null with the static store (no cache: the config's apps are all in memory). */
  readonly catalog: AppCatalog | null;
  readonly rateLimits: ApiRateLimits;
  /** Management for the admin API; `announce` applies a change here and tells the cluster. */
  manager(announce: AnnounceChange): AppManager;
  close(): Promise<void>;
}

/** The config's app store, its cache and the API rate limits (sharing the Redis of the Redis adapter, when on). */
export function createNodeApps(config: Config, logger: Logger): NodeApps {
  const log = logger.child({ component: 'apps' });
  const store = createAppStore(config);
  const redis: Redis | null = appsRedis(config, log);
  const catalog =
    store.kind === 'static'
      ? null
      : new AppCatalog(
          store,
          {
            ttlMs: config.appCacheTtl * 1000,
            max: config.appCacheMax,
            negativeTtlMs: config.appCacheNegativeTtl * 1000,
            negativeMax: config.appCacheNegativeMax,
            queryTimeoutMs: config.appStoreQueryTimeout * 1000,
            breakerFailures: config.appStoreBreakerFailures,
            breakerHalfOpenMs: config.appStoreBreakerHalfOpen * 1000,
            outageLogMs: config.appStoreOutageLogInterval * 1000,
          },
          log,
          redis === null ? null : new AppL2(redis, config.keyPrefix, config.appCacheTtl * 1000, log),
        );
  const rateLimits = new ApiRateLimits(redis, config.keyPrefix, log);
  return {
    store,
    catalog,
    rateLimits,
    manager: (announce) => new AppManager(store, announce, config.appSecretGrace),
    async close() {
      await store.close().catch(() => undefined);
      redis?.disconnect();
    },
  };
}
