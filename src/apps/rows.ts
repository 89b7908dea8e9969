import { appSchema, type AppConfig } from '../config/schema.js';
import type { AppTableSchema, StoredApp } from './types.js';

/** A row as a driver returns it: column name → value. */
export type Row = Record<string, unknown>;

/** The columns of one table layout and how an app travels to and from them. */
export interface RowMapping {
  readonly schema: AppTableSchema;
  readonly defaultTable: string;
  /** Columns read by every lookup, in this order. */
  readonly columns: readonly string[];
  readonly idColumn: string;
  readonly keyColumn: string;
  fromRow(row: Row): StoredApp;
  toRow(app: AppConfig): Row;
  /** Column name → SQL type, for `apps migrate`; `types` picks the dialect's spelling. */
  columnTypes(types: SqlTypes): ReadonlyArray<[string, string]>;
}

/** How a dialect spells the column types the layouts need. */
export interface SqlTypes {
  bool: string;
  bigint: string;
  text: string;
  json: string;
}

// App fields that have their own column in the switchboard layout; the rest travel in `settings`.
const OWN_COLUMNS = new Set(['id', 'key', 'secret', 'enabled', 'previousSecret', 'previousSecretExpiresAt']);

/** A definition checked against the one app schema: the first issue, with its field, is the reason. */
function validateApp(id: string, input: Record<string, unknown>): StoredApp {
  const parsed = appSchema.safeParse(input);
  if (parsed.success) return { ok: true, app: parsed.data };
  const issue = parsed.error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? '' : `${issue.path.join('.')}: `;
  return { ok: false, id, reason: `${where}${issue?.message ?? 'invalid'}` };
}

function toBool(v: unknown): unknown {
  if (typeof v === 'boolean') return v;
  if (v === 1 || v === '1' || v === 't' || v === 'true') return true;
  if (v === 0 || v === '0' || v === 'f' || v === 'false') return false;
  return v;
}

/** pg returns BIGINT as a string, mysql2 DECIMAL-ish numbers too: numbers that are numbers, else the value (the schema then refuses it). */
function toNumber(v: unknown): unknown {
  if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  if (typeof v === 'bigint') return Number(v);
  return v;
}

/** A JSON column: drivers return parsed values for json types and text otherwise. */
function parseJsonColumn(v: unknown, column: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  if (v === null || v === undefined) return { ok: true, value: undefined };
  if (typeof v !== 'string' && !Buffer.isBuffer(v)) return { ok: true, value: v };
  try {
    return { ok: true, value: JSON.parse(v.toString()) as unknown };
  } catch {
    return { ok: false, reason: `${column} is not valid JSON` };
  }
}

function rowId(row: Row): string {
  return typeof row.id === 'string' ? row.id : String(row.id);
}

/** The layout `switchboard apps migrate` creates (docs/apps.md). */
export const switchboardRows: RowMapping = {
  schema: 'switchboard',
  defaultTable: 'switchboard_apps',
  columns: ['id', 'key', 'secret', 'enabled', 'previous_secret', 'previous_secret_expires_at', 'settings', 'updated_at'],
  idColumn: 'id',
  keyColumn: 'key',
  fromRow(row) {
    const id = rowId(row);
    const settings = parseJsonColumn(row.settings, 'settings');
    if (!settings.ok) return { ok: false, id, reason: settings.reason };
    const extra = settings.value ?? {};
    if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) return { ok: false, id, reason: 'settings must be a JSON object' };
    const input: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(extra)) if (!OWN_COLUMNS.has(name)) input[name] = value;
    input.id = id;
    input.key = row.key;
    input.secret = row.secret;
    input.enabled = toBool(row.enabled);
    if (row.previous_secret !== null && row.previous_secret !== undefined) input.previousSecret = row.previous_secret;
    if (row.previous_secret_expires_at !== null && row.previous_secret_expires_at !== undefined)
      input.previousSecretExpiresAt = toNumber(row.previous_secret_expires_at);
    return validateApp(id, input);
  },
  toRow(app) {
    const settings: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(app)) if (!OWN_COLUMNS.has(name) && value !== undefined) settings[name] = value;
    return {
      id: app.id,
      key: app.key,
      secret: app.secret,
      enabled: app.enabled,
      previous_secret: app.previousSecret ?? null,
      previous_secret_expires_at: app.previousSecretExpiresAt ?? null,
      settings: JSON.stringify(settings),
      updated_at: Date.now(),
    };
  },
  columnTypes: (t) => [
    ['id', 'VARCHAR(100) NOT NULL PRIMARY KEY'],
    ['key', 'VARCHAR(100) NOT NULL UNIQUE'],
    ['secret', 'VARCHAR(200) NOT NULL'],
    ['enabled', `${t.bool} NOT NULL`],
    ['previous_secret', 'VARCHAR(200) NULL'],
    ['previous_secret_expires_at', `${t.bigint} NULL`],
    ['settings', `${t.text} NOT NULL`],
    ['updated_at', `${t.bigint} NOT NULL`],
  ],
};

// Soketi's unlimited is -1; ours is 0 (or, for client events per connection, which must be at least 1, no practical limit).
const UNLIMITED_CLIENT_EVENTS = Number.MAX_SAFE_INTEGER;
// Soketi's enable_user_authentication requires pusher:signin within its default 30 s.
const SOKETI_SIGNIN_TIMEOUT = 30;

/** -1 (Soketi's "no limit") → 0 (ours); anything else as it is, so that -2 is refused. */
function soketiLimit(v: unknown): unknown {
  const n = toNumber(v);
  return n === -1 ? 0 : n;
}

// Soketi's optional limit columns (NULL = its server default) and our app fields.
const SOKETI_OPTIONAL: ReadonlyArray<[string, keyof AppConfig]> = [
  ['max_presence_members_per_channel', 'maxPresenceMembersPerChannel'],
  ['max_presence_member_size_in_kb', 'maxPresenceMemberSizeKb'],
  ['max_event_channels_at_once', 'maxChannelsPerPublish'],
  ['max_event_name_length', 'maxEventNameLength'],
  ['max_event_payload_in_kb', 'maxEventPayloadKb'],
  ['max_event_batch_size', 'maxBatchSize'],
];

/** A Soketi `apps` table, read and written as Soketi has it (docs/apps.md has the mapping). */
export const soketiRows: RowMapping = {
  schema: 'soketi',
  defaultTable: 'apps',
  columns: [
    'id',
    'key',
    'secret',
    'max_connections',
    'enable_client_messages',
    'enabled',
    'max_backend_events_per_sec',
    'max_client_events_per_sec',
    'max_read_req_per_sec',
    'webhooks',
    ...SOKETI_OPTIONAL.map(([column]) => column),
    'enable_user_authentication',
  ],
  idColumn: 'id',
  keyColumn: 'key',
  fromRow(row) {
    const id = rowId(row);
    const webhooks = parseJsonColumn(row.webhooks, 'webhooks');
    if (!webhooks.ok) return { ok: false, id, reason: webhooks.reason };
    const input: Record<string, unknown> = {
      id,
      key: row.key,
      secret: row.secret,
      enabled: toBool(row.enabled),
      maxConnections: soketiLimit(row.max_connections),
      maxBackendEventsPerSecond: soketiLimit(row.max_backend_events_per_sec),
      maxReadRequestsPerSecond: soketiLimit(row.max_read_req_per_sec),
      webhooks: webhooks.value ?? [],
    };
    const clientEvents = toBool(row.enable_client_messages);
    const perSecond = toNumber(row.max_client_events_per_sec);
    // 0 client events a second is Soketi's way of saying none.
    input.enableClientEvents = perSecond === 0 ? false : clientEvents;
    input.maxClientEventsPerSecond = perSecond === -1 || perSecond === 0 ? UNLIMITED_CLIENT_EVENTS : perSecond;
    for (const [column, field] of SOKETI_OPTIONAL) {
      const value = row[column];
      if (value !== null && value !== undefined) input[field] = toNumber(value);
    }
    if (row.enable_user_authentication !== undefined)
      input.userAuthenticationTimeout = toBool(row.enable_user_authentication) === true ? SOKETI_SIGNIN_TIMEOUT : 0;
    return validateApp(id, input);
  },
  toRow(app) {
    const row: Row = {
      id: app.id,
      key: app.key,
      secret: app.secret,
      max_connections: app.maxConnections === 0 ? -1 : app.maxConnections,
      enable_client_messages: app.enableClientEvents ? 1 : 0,
      enabled: app.enabled ? 1 : 0,
      max_backend_events_per_sec: app.maxBackendEventsPerSecond === 0 ? -1 : app.maxBackendEventsPerSecond,
      max_client_events_per_sec: app.maxClientEventsPerSecond >= UNLIMITED_CLIENT_EVENTS ? -1 : app.maxClientEventsPerSecond,
      max_read_req_per_sec: app.maxReadRequestsPerSecond === 0 ? -1 : app.maxReadRequestsPerSecond,
      webhooks: JSON.stringify(app.webhooks),
      enable_user_authentication: app.userAuthenticationTimeout > 0 ? 1 : 0,
    };
    for (const [column, field] of SOKETI_OPTIONAL) row[column] = app[field];
    return row;
  },
  columnTypes: (t) => [
    ['id', 'VARCHAR(255) NOT NULL PRIMARY KEY'],
    ['key', 'VARCHAR(255) NOT NULL'],
    ['secret', 'VARCHAR(255) NOT NULL'],
    ['max_connections', 'INTEGER NOT NULL'],
    ['enable_client_messages', 'SMALLINT NOT NULL'],
    ['enabled', 'SMALLINT NOT NULL'],
    ['max_backend_events_per_sec', 'INTEGER NOT NULL'],
    ['max_client_events_per_sec', `${t.bigint} NOT NULL`],
    ['max_read_req_per_sec', 'INTEGER NOT NULL'],
    ['webhooks', `${t.json} NULL`],
    ...SOKETI_OPTIONAL.map(([column]): [string, string] => [column, column.endsWith('_kb') ? 'REAL NULL' : 'INTEGER NULL']),
    ['enable_user_authentication', 'SMALLINT NOT NULL'],
  ],
};

export function rowMapping(schema: AppTableSchema): RowMapping {
  return schema === 'soketi' ? soketiRows : switchboardRows;
}
