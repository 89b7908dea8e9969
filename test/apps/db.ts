import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { metrics } from '../../src/metrics/index.js';
import { SERVICES_REQUIRED } from '../cluster/services.js';

const PG_ROOT = 'postgres://postgres@127.0.0.1:5432';
const MYSQL_ROOT = 'mysql://root@127.0.0.1:3306';

export type Dialect = 'postgres' | 'mysql';

/** A database of its own for one test file, dropped at the end. */
export interface TestDatabase {
  readonly dialect: Dialect;
  readonly url: string;
  /** Run SQL in it (setup of hand-made rows). */
  sql(text: string, params?: unknown[]): Promise<unknown>;
  drop(): Promise<void>;
}

export async function createDatabase(dialect: Dialect): Promise<TestDatabase> {
  const name = `sb_apps_${process.pid}_${randomBytes(4).toString('hex')}`;
  if (dialect === 'postgres') {
    const admin = new pg.Client({ connectionString: `${PG_ROOT}/postgres` });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = `${PG_ROOT}/${name}`;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return {
      dialect,
      url,
      sql: (text, params) => client.query(text, params),
      async drop() {
        await client.end();
        const again = new pg.Client({ connectionString: `${PG_ROOT}/postgres` });
        await again.connect();
        await again.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await again.end();
      },
    };
  }
  const admin = await mysql.createConnection({ uri: MYSQL_ROOT });
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = `${MYSQL_ROOT}/${name}`;
  const conn = await mysql.createConnection({ uri: url });
  return {
    dialect,
    url,
    sql: (text, params) => conn.query(text, params),
    async drop() {
      await conn.query(`DROP DATABASE IF EXISTS ${name}`);
      await conn.end();
    },
  };
}

/** Whether the shared database answers; with SWITCHBOARD_REQUIRE_SERVICES=1 a missing one fails the suite. */
export async function databaseAvailable(dialect: Dialect): Promise<boolean> {
  try {
    if (dialect === 'postgres') {
      const c = new pg.Client({ connectionString: `${PG_ROOT}/postgres`, connectionTimeoutMillis: 2000 });
      await c.connect();
      await c.end();
    } else {
      const c = await mysql.createConnection({ uri: MYSQL_ROOT, connectTimeout: 2000 });
      await c.end();
    }
    return true;
  } catch (err) {
    if (SERVICES_REQUIRED) throw new Error(`${dialect} not reachable and SWITCHBOARD_REQUIRE_SERVICES=1: ${(err as Error).message}`);
    console.warn(`[apps tests] ${dialect} not reachable: skipping its suite`);
    return false;
  }
}

/** Queries the app store made so far (the counter the cache's promises are checked against). */
export async function storeQueries(): Promise<number> {
  const { values } = await metrics.appStoreQueries.get();
  return values.filter((v) => v.labels.op !== 'list').reduce((sum, v) => sum + v.value, 0);
}

/** A logger whose lines the test can read. */
export function capturingLogger(level = 'info'): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}
