import mysql from 'mysql2/promise';
import type { Row } from './rows.js';
import type { PoolSettings } from './postgres.js';
import { dialects } from './sql-dialect.js';
import type { SqlDriver } from './sql-store.js';

/** MySQL or MariaDB through `mysql2`'s pool. */
export function mysqlDriver(settings: PoolSettings): SqlDriver {
  const pool = mysql.createPool({
    uri: settings.url,
    connectionLimit: settings.poolSize,
    connectTimeout: settings.queryTimeoutMs,
    waitForConnections: true,
    // Bounded: with the database gone, lookups fail instead of queueing without end.
    queueLimit: settings.poolSize * 100,
    enableKeepAlive: true,
  });
  const timeout = settings.queryTimeoutMs;
  return {
    ...dialects.mysql,
    async query(sql, params) {
      const [rows] = await pool.query({ sql, timeout }, params as unknown[]);
      return rows as Row[];
    },
    async execute(sql, params) {
      const [result] = await pool.query({ sql, timeout }, params as unknown[]);
      return (result as { affectedRows?: number }).affectedRows ?? 0;
    },
    close: () => pool.end(),
  };
}
