import type { AppConfig } from '../config/schema.js';

/** Which layout the apps table has (docs/apps.md). */
export type AppTableSchema = 'switchboard' | 'soketi';

/**
 * One app as a store returns it: a valid definition, or a row that is not
 * one (malformed webhooks JSON, a negative limit...), with the reason. An
 * invalid row never becomes an app; the cache logs it and treats it as unknown.
 */
export type StoredApp = { ok: true; app: AppConfig } | { ok: false; id: string; reason: string };

/** What `apps update` may change: any app field but the id. */
export type AppPatch = Partial<Omit<AppConfig, 'id'>>;

/**
 * Where app definitions live. Lookups are what a node does (through the
 * cache); the rest is management (`switchboard apps`, the admin API).
 */
export interface AppStore {
  readonly kind: 'static' | 'postgres' | 'mysql';
  findByKey(key: string): Promise<StoredApp | undefined>;
  findById(id: string): Promise<StoredApp | undefined>;
  list(): Promise<StoredApp[]>;
  /** Insert a new app; fails with AppStoreConflict when the id or key is taken. */
  create(app: AppConfig): Promise<void>;
  /** Replace an app's definition (validated by the caller); false when there is no such app. */
  replace(app: AppConfig): Promise<boolean>;
  delete(id: string): Promise<boolean>;
  /** Create the table (and index) when missing. */
  migrate(): Promise<void>;
  close(): Promise<void>;
}

/** The store refuses a management call: read-only (static), a conflict, no such app. */
export class AppStoreRefusal extends Error {
  constructor(
    readonly reason: 'read-only' | 'conflict' | 'not-found' | 'invalid',
    message: string,
  ) {
    super(message);
    this.name = 'AppStoreRefusal';
  }
}

export const READ_ONLY_MESSAGE = 'read-only store: apps come from the config file (appStore static); use appStore postgres or mysql to manage apps';
