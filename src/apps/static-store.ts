import type { AppConfig } from '../config/schema.js';
import { AppStoreRefusal, READ_ONLY_MESSAGE, type AppStore, type StoredApp } from './types.js';

/** The apps of the config file: read-only, every management call is refused with one clear message. */
export class StaticAppStore implements AppStore {
  readonly kind = 'static' as const;
  private readonly byKey = new Map<string, AppConfig>();
  private readonly byId = new Map<string, AppConfig>();

  constructor(apps: readonly AppConfig[]) {
    for (const app of apps) {
      this.byKey.set(app.key, app);
      this.byId.set(app.id, app);
    }
  }

  /** Every app, synchronously (the node builds their state at start). */
  get apps(): Iterable<AppConfig> {
    return this.byId.values();
  }

  async findByKey(key: string): Promise<StoredApp | undefined> {
    const app = this.byKey.get(key);
    return app === undefined ? undefined : { ok: true, app };
  }

  async findById(id: string): Promise<StoredApp | undefined> {
    const app = this.byId.get(id);
    return app === undefined ? undefined : { ok: true, app };
  }

  async list(): Promise<StoredApp[]> {
    return [...this.byId.values()].map((app) => ({ ok: true, app }));
  }

  create(): Promise<void> {
    return Promise.reject(new AppStoreRefusal('read-only', READ_ONLY_MESSAGE));
  }

  replace(): Promise<boolean> {
    return Promise.reject(new AppStoreRefusal('read-only', READ_ONLY_MESSAGE));
  }

  delete(): Promise<boolean> {
    return Promise.reject(new AppStoreRefusal('read-only', READ_ONLY_MESSAGE));
  }

  migrate(): Promise<void> {
    return Promise.reject(new AppStoreRefusal('read-only', READ_ONLY_MESSAGE));
  }

  async close(): Promise<void> {}
}
