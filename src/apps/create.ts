import type { Config } from '../config/schema.js';
import type { PoolSettings } from './postgres.js';
import { rowMapping } from './rows.js';
import { dialects } from './sql-dialect.js';
import { SqlAppStore, type SqlDriver } from './sql-store.js';
import { StaticAppStore } from './static-store.js';
import type { AppStore } from './types.js';

export type AppStoreSettings = Pick<
  Config,
  'apps' | 'appStore' | 'appStoreUrl' | 'appStoreSchema' | 'appStoreTable' | 'appStorePoolSize' | 'appStoreQueryTimeout'
>;

/** The store the config names. Opening a pool connects lazily: an unreachable database is a lookup failure, not a start-up one. */
export function createAppStore(settings: AppStoreSettings): AppStore {
  if (settings.appStore === 'static') return new StaticAppStore(settings.apps);
  const pool = { url: settings.appStoreUrl ?? '', poolSize: settings.appStorePoolSize, queryTimeoutMs: Math.round(settings.appStoreQueryTimeout * 1000) };
  return new SqlAppStore(lazyDriver(settings.appStore, pool), rowMapping(settings.appStoreSchema), settings.appStoreTable);
}

/**
 * The dialect's spelling now (src/apps/sql-dialect.ts, the one the drivers
 * use too), its driver on the first query: a node with the static store,
 * and every start, pays nothing for pg and mysql2.
 */
function lazyDriver(kind: 'postgres' | 'mysql', pool: PoolSettings): SqlDriver {
  let loaded: Promise<SqlDriver> | null = null;
  let closed = false;
  const driver = (): Promise<SqlDriver> =>
    (loaded ??= kind === 'postgres' ? import('./postgres.js').then((m) => m.postgresDriver(pool)) : import('./mysql.js').then((m) => m.mysqlDriver(pool)));
  return {
    ...dialects[kind],
    async query(sql, params) {
      if (closed) throw new Error('app store closed');
      return (await driver()).query(sql, params);
    },
    async execute(sql, params) {
      if (closed) throw new Error('app store closed');
      return (await driver()).execute(sql, params);
    },
    async close() {
      closed = true;
      if (loaded !== null) await (await loaded).close();
    },
  };
}
