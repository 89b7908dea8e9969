import type { Config } from '../config/schema.js';
import { mysqlDriver } from './mysql.js';
import { postgresDriver } from './postgres.js';
import { rowMapping } from './rows.js';
import { SqlAppStore } from './sql-store.js';
import { StaticAppStore } from './static-store.js';
import type { AppStore } from './types.js';

export type AppStoreSettings = Pick<Config, 'apps' | 'appStore' | 'appStoreUrl' | 'appStoreSchema' | 'appStoreTable' | 'appStorePoolSize' | 'appStoreQueryTimeout'>;

/** The store the config names. Opening a pool connects lazily: an unreachable database is a lookup failure, not a start-up one. */
export function createAppStore(settings: AppStoreSettings): AppStore {
  if (settings.appStore === 'static') return new StaticAppStore(settings.apps);
  const pool = { url: settings.appStoreUrl ?? '', poolSize: settings.appStorePoolSize, queryTimeoutMs: Math.round(settings.appStoreQueryTimeout * 1000) };
  const driver = settings.appStore === 'postgres' ? postgresDriver(pool) : mysqlDriver(pool);
  return new SqlAppStore(driver, rowMapping(settings.appStoreSchema), settings.appStoreTable);
}
