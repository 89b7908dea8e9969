import type { SqlTypes } from './rows.js';

/**
 * How one SQL dialect spells what the app store's queries need. Pure data
 * and functions, so that a node knows its dialect before its driver (pg or
 * mysql2) is loaded, and without it.
 */
export interface SqlDialect {
  readonly kind: 'postgres' | 'mysql';
  readonly types: SqlTypes;
  /** Quote an identifier (a table or column name from the checked config or the row mapping; never request data). */
  quote(name: string): string;
  /** The placeholder of the i-th parameter (from 1). */
  param(i: number): string;
  /** Whether a driver's error is a unique-key violation. */
  isConflict(err: unknown): boolean;
}

const TYPES: SqlTypes = Object.freeze({ bool: 'BOOLEAN', bigint: 'BIGINT', text: 'TEXT', json: 'JSON' });

function errorCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

/** Each dialect's quoting, placeholders and conflict code, spelled once: the drivers and the lazy driver in create.ts share them. */
export const dialects: Readonly<Record<SqlDialect['kind'], SqlDialect>> = Object.freeze({
  postgres: Object.freeze<SqlDialect>({
    kind: 'postgres',
    types: TYPES,
    // A double quote inside a quoted identifier is written twice.
    quote: (name) => `"${name.replace(/"/g, '""')}"`,
    param: (i) => `$${i}`,
    // SQLSTATE unique_violation.
    isConflict: (err) => errorCode(err) === '23505',
  }),
  mysql: Object.freeze<SqlDialect>({
    kind: 'mysql',
    types: TYPES,
    // A backtick inside a quoted identifier is written twice; `?` placeholders carry no position.
    quote: (name) => `\`${name.replace(/`/g, '``')}\``,
    param: () => '?',
    isConflict: (err) => errorCode(err) === 'ER_DUP_ENTRY',
  }),
});
