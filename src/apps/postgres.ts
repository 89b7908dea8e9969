import pg from 'pg';
import type { Row } from './rows.js';
import { dialects } from './sql-dialect.js';
import type { SqlDriver } from './sql-store.js';

export interface PoolSettings {
  url: string;
  poolSize: number;
  /** Milliseconds one query (or getting a connection) may take. */
  queryTimeoutMs: number;
}

/** PostgreSQL through `pg`'s pool. */
export function postgresDriver(settings: PoolSettings): SqlDriver {
  const pool = new pg.Pool({
    connectionString: settings.url,
    max: settings.poolSize,
    connectionTimeoutMillis: settings.queryTimeoutMs,
    query_timeout: settings.queryTimeoutMs,
    statement_timeout: settings.queryTimeoutMs,
    // An idle connection the server dropped (restart) must not take the process down.
    idleTimeoutMillis: 30_000,
  });
  pool.on('error', () => undefined);
  return {
    ...dialects.postgres,
    async query(sql, params) {
      return (await pool.query(sql, params as unknown[])).rows as Row[];
    },
    async execute(sql, params) {
      return (await pool.query(sql, params as unknown[])).rowCount ?? 0;
    },
    close: () => pool.end(),
  };
}
