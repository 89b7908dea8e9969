import { randomBytes } from 'node:crypto';
import { appSchema, type AppConfig } from '../config/schema.js';
import { AppStoreRefusal, type AppPatch, type AppStore, type StoredApp } from './types.js';

/** Tell the nodes an app changed: its id and every key it had or has. */
export type AnnounceChange = (appId: string, keys: readonly string[]) => Promise<void>;

/** What rotate-secret did. */
export interface Rotation {
  app: AppConfig;
  /** The new secret (generated when none was given). */
  secret: string;
  /** When the old secret stops verifying (ms since the epoch). */
  previousSecretExpiresAt: number;
}

/**
 * The management operations, the same for `switchboard apps` and the admin
 * API: every write is validated against the one app schema, made in the
 * store, then announced so that every node drops its cached copy.
 */
export class AppManager {
  constructor(
    readonly store: AppStore,
    private readonly announce: AnnounceChange,
    private readonly defaultGraceSeconds: number,
  ) {}

  list(): Promise<StoredApp[]> {
    return this.store.list();
  }

  async show(id: string): Promise<StoredApp> {
    const stored = await this.store.findById(id);
    if (stored === undefined) throw new AppStoreRefusal('not-found', `no app with id ${id}`);
    return stored;
  }

  async create(input: unknown): Promise<AppConfig> {
    const app = parseApp(input);
    await this.store.create(app);
    await this.announce(app.id, [app.key]);
    return app;
  }

  async update(id: string, patch: AppPatch | Record<string, unknown>): Promise<AppConfig> {
    if ('id' in patch && patch.id !== id) throw new AppStoreRefusal('invalid', 'the id of an app cannot change');
    const current = await this.current(id);
    const next = parseApp({ ...current, ...patch, id });
    if (!(await this.store.replace(next))) throw new AppStoreRefusal('not-found', `no app with id ${id}`);
    await this.announce(id, current.key === next.key ? [next.key] : [current.key, next.key]);
    return next;
  }

  setEnabled(id: string, enabled: boolean): Promise<AppConfig> {
    return this.update(id, { enabled });
  }

  async rotateSecret(id: string, options: { secret?: string; graceSeconds?: number } = {}): Promise<Rotation> {
    const current = await this.current(id);
    const secret = options.secret ?? randomBytes(24).toString('base64url');
    if (secret === current.secret) throw new AppStoreRefusal('invalid', 'the new secret is the current one');
    const grace = options.graceSeconds ?? this.defaultGraceSeconds;
    const previousSecretExpiresAt = Date.now() + grace * 1000;
    const app = await this.update(id, { secret, previousSecret: current.secret, previousSecretExpiresAt });
    return { app, secret, previousSecretExpiresAt };
  }

  async delete(id: string): Promise<void> {
    const current = await this.store.findById(id);
    if (!(await this.store.delete(id))) throw new AppStoreRefusal('not-found', `no app with id ${id}`);
    await this.announce(id, current?.ok === true ? [current.app.key] : []);
  }

  /** The app as stored; an invalid row can still be repaired by an update that replaces the bad field. */
  private async current(id: string): Promise<AppConfig> {
    const stored = await this.show(id);
    if (!stored.ok) throw new AppStoreRefusal('invalid', `app ${id} is stored invalid (${stored.reason}): delete it, or fix the row in the database`);
    return stored.app;
  }
}

function parseApp(input: unknown): AppConfig {
  const parsed = appSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new AppStoreRefusal('invalid', issue === undefined ? 'invalid app' : `${issue.path.join('.') || 'app'}: ${issue.message}`);
}
