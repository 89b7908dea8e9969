import type { AppConfig } from '../config/schema.js';
import { metrics } from '../metrics/index.js';
import type { Row, RowMapping } from './rows.js';
import type { SqlDialect } from './sql-dialect.js';
import { AppStoreRefusal, type AppStore, type StoredApp } from './types.js';

/** What the SQL store needs of a driver: its dialect's spelling (src/apps/sql-dialect.ts) and parameterised queries. */
export interface SqlDriver extends SqlDialect {
  query(sql: string, params: readonly unknown[]): Promise<Row[]>;
  /** Rows changed by a write. */
  execute(sql: string, params: readonly unknown[]): Promise<number>;
  close(): Promise<void>;
}

/**
 * Apps in one SQL table, in either layout (switchboard or soketi). Every
 * query is parameterised; identifiers come from the checked config only.
 * Lookups are counted (`switchboard_app_store_queries_total`): the cache's
 * promises about the database load are checked against this counter.
 */
export class SqlAppStore implements AppStore {
  readonly kind: 'postgres' | 'mysql';
  private readonly table: string;
  private readonly selectList: string;

  constructor(
    private readonly driver: SqlDriver,
    private readonly mapping: RowMapping,
    table: string | undefined,
  ) {
    this.kind = driver.kind;
    this.table = driver.quote(table ?? mapping.defaultTable);
    this.selectList = mapping.columns.map((c) => driver.quote(c)).join(', ');
  }

  findByKey(key: string): Promise<StoredApp | undefined> {
    return this.findOne('by_key', this.mapping.keyColumn, key);
  }

  findById(id: string): Promise<StoredApp | undefined> {
    return this.findOne('by_id', this.mapping.idColumn, id);
  }

  private async findOne(op: string, column: string, value: string): Promise<StoredApp | undefined> {
    const d = this.driver;
    let rows: Row[];
    try {
      rows = await d.query(`SELECT ${this.selectList} FROM ${this.table} WHERE ${d.quote(column)} = ${d.param(1)}`, [value]);
    } catch (err) {
      metrics.appStoreQueries.inc({ op, outcome: 'error' });
      throw err;
    }
    metrics.appStoreQueries.inc({ op, outcome: rows.length === 0 ? 'none' : 'found' });
    const row = rows[0];
    return row === undefined ? undefined : this.mapping.fromRow(row);
  }

  async list(): Promise<StoredApp[]> {
    const d = this.driver;
    const rows = await d.query(`SELECT ${this.selectList} FROM ${this.table} ORDER BY ${d.quote(this.mapping.idColumn)}`, []);
    metrics.appStoreQueries.inc({ op: 'list', outcome: 'found' });
    return rows.map((row) => this.mapping.fromRow(row));
  }

  async create(app: AppConfig): Promise<void> {
    const d = this.driver;
    // The soketi layout has no unique key index: the key is checked here.
    const taken = await d.query(
      `SELECT ${d.quote(this.mapping.idColumn)} FROM ${this.table} WHERE ${d.quote(this.mapping.idColumn)} = ${d.param(1)} OR ${d.quote(this.mapping.keyColumn)} = ${d.param(2)}`,
      [app.id, app.key],
    );
    if (taken.length > 0) throw new AppStoreRefusal('conflict', `an app with id ${app.id} or key ${app.key} exists`);
    const row = this.mapping.toRow(app);
    const columns = Object.keys(row);
    try {
      await d.execute(
        `INSERT INTO ${this.table} (${columns.map((c) => d.quote(c)).join(', ')}) VALUES (${columns.map((_, i) => d.param(i + 1)).join(', ')})`,
        columns.map((c) => row[c]),
      );
    } catch (err) {
      if (d.isConflict(err)) throw new AppStoreRefusal('conflict', `an app with id ${app.id} or key ${app.key} exists`);
      throw err;
    }
  }

  async replace(app: AppConfig): Promise<boolean> {
    const d = this.driver;
    const clash = await d.query(
      `SELECT ${d.quote(this.mapping.idColumn)} FROM ${this.table} WHERE ${d.quote(this.mapping.keyColumn)} = ${d.param(1)} AND ${d.quote(this.mapping.idColumn)} <> ${d.param(2)}`,
      [app.key, app.id],
    );
    if (clash.length > 0) throw new AppStoreRefusal('conflict', `key ${app.key} belongs to another app`);
    const row = this.mapping.toRow(app);
    const columns = Object.keys(row).filter((c) => c !== this.mapping.idColumn);
    const changed = await d.execute(
      `UPDATE ${this.table} SET ${columns.map((c, i) => `${d.quote(c)} = ${d.param(i + 1)}`).join(', ')} WHERE ${d.quote(this.mapping.idColumn)} = ${d.param(columns.length + 1)}`,
      [...columns.map((c) => row[c]), app.id],
    );
    return changed > 0;
  }

  async delete(id: string): Promise<boolean> {
    const d = this.driver;
    return (await d.execute(`DELETE FROM ${this.table} WHERE ${d.quote(this.mapping.idColumn)} = ${d.param(1)}`, [id])) > 0;
  }

  async migrate(): Promise<void> {
    const d = this.driver;
    const columns = this.mapping.columnTypes(d.types).map(([name, type]) => `${d.quote(name)} ${type}`);
    await d.execute(`CREATE TABLE IF NOT EXISTS ${this.table} (${columns.join(', ')})`, []);
  }

  close(): Promise<void> {
    return this.driver.close();
  }
}
