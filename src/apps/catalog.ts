import { BrokenCircuitError, circuitBreaker, CircuitState, ConsecutiveBreaker, handleAll, type CircuitBreakerPolicy } from 'cockatiel';
import { LRUCache } from 'lru-cache';
import type { AppConfig } from '../config/schema.js';
import { metrics } from '../metrics/index.js';
import type { Logger } from '../util/logger.js';
import type { AppL2 } from './l2.js';
import type { AppStore, StoredApp } from './types.js';

export interface CatalogOptions {
  ttlMs: number;
  max: number;
  negativeTtlMs: number;
  negativeMax: number;
  queryTimeoutMs: number;
  breakerFailures: number;
  breakerHalfOpenMs: number;
  outageLogMs: number;
}

/** What the node's readiness body shows of the app store. */
export interface AppStoreStatus {
  store: string;
  up: boolean;
  breaker: string;
  /** Date.now() when the current outage began. */
  downSince?: number;
  lastError?: string;
}

interface Entry {
  readonly app: AppConfig;
  /** Date.now() after which the entry is read again (and still served if the store fails). */
  expiresAt: number;
}

/** A lookup's synchronous answer: the app, `null` for a key known to be unknown, `undefined` when only the store can tell. */
export type Peek = AppConfig | null | undefined;

type Field = 'key' | 'id';

// Resolved once: hashing a label set on every connect adds up.
const lookups = {
  l1: metrics.appCacheLookups.labels({ result: 'l1' }),
  negative: metrics.appCacheLookups.labels({ result: 'negative' }),
  l2: metrics.appCacheLookups.labels({ result: 'l2' }),
  store: metrics.appCacheLookups.labels({ result: 'store' }),
  stale: metrics.appCacheLookups.labels({ result: 'stale' }),
  unknown: metrics.appCacheLookups.labels({ result: 'unknown' }),
};

/**
 * Apps through the levels of cache: L1 here (positive entries with a TTL,
 * unknown keys and ids for a shorter one), L2 in Redis when there is one,
 * then the store behind a circuit breaker. Concurrent misses for one key
 * share one query. With the store down, an expired entry keeps serving
 * (stale-if-error) and an unknown key stays unknown; the outage is logged
 * once per `outageLogMs` and shown in status().
 */
export class AppCatalog {
  private readonly byKey: LRUCache<string, Entry>;
  private readonly byId: LRUCache<string, Entry>;
  private readonly unknownKeys: LRUCache<string, true> | null;
  private readonly unknownIds: LRUCache<string, true> | null;
  private readonly flights = { key: new Map<string, Promise<AppConfig | null>>(), id: new Map<string, Promise<AppConfig | null>>() };
  private readonly breaker: CircuitBreakerPolicy;
  /** Bumped by every invalidation: a lookup that began before one must not cache what it read. */
  private generation = 0;
  private down: { since: number; loggedAt: number; failures: number; error: string } | null = null;
  /** App id → Date.now() its invalid row was last logged. */
  private readonly refusedLogged = new LRUCache<string, number>({ max: 10_000 });

  constructor(
    readonly store: AppStore,
    private readonly options: CatalogOptions,
    private readonly log: Logger,
    private readonly l2: AppL2 | null = null,
  ) {
    this.byKey = new LRUCache({ max: options.max });
    this.byId = new LRUCache({ max: options.max });
    const negative = options.negativeTtlMs > 0 ? { max: options.negativeMax, ttl: options.negativeTtlMs, ttlAutopurge: false } : null;
    this.unknownKeys = negative === null ? null : new LRUCache(negative);
    this.unknownIds = negative === null ? null : new LRUCache(negative);
    this.breaker = circuitBreaker(handleAll, { halfOpenAfter: options.breakerHalfOpenMs, breaker: new ConsecutiveBreaker(options.breakerFailures) });
    metrics.appStoreUp.set(1);
  }

  /** The connect path's question: answered from L1 without a promise when it can be. */
  peekKey(key: string): Peek {
    return this.peek(this.byKey, this.unknownKeys, key);
  }

  peekId(id: string): Peek {
    return this.peek(this.byId, this.unknownIds, id);
  }

  private peek(entries: LRUCache<string, Entry>, unknown: LRUCache<string, true> | null, value: string): Peek {
    const entry = entries.get(value);
    if (entry !== undefined) {
      if (entry.expiresAt > Date.now()) {
        lookups.l1.inc();
        return entry.app;
      }
      return undefined;
    }
    if (unknown?.get(value) === true) {
      lookups.negative.inc();
      return null;
    }
    return undefined;
  }

  byKeyAsync(key: string): Promise<AppConfig | null> {
    return this.lookup('key', key);
  }

  byIdAsync(id: string): Promise<AppConfig | null> {
    return this.lookup('id', id);
  }

  private lookup(field: Field, value: string): Promise<AppConfig | null> {
    const peeked = field === 'key' ? this.peekKey(value) : this.peekId(value);
    if (peeked !== undefined) return Promise.resolve(peeked);
    const flights = this.flights[field];
    let flight = flights.get(value);
    if (flight === undefined) {
      const started: Promise<AppConfig | null> = this.load(field, value).finally(() => {
        if (flights.get(value) === started) flights.delete(value);
      });
      flights.set(value, started);
      flight = started;
    }
    return flight;
  }

  private async load(field: Field, value: string): Promise<AppConfig | null> {
    const entries = field === 'key' ? this.byKey : this.byId;
    const stale = entries.get(value);
    const generation = this.generation;
    if (this.l2 !== null) {
      const shared = await this.l2.get(field, value);
      if (shared !== undefined && generation === this.generation) {
        lookups.l2.inc();
        this.remember(shared);
        return shared;
      }
    }
    let stored: StoredApp | undefined;
    try {
      stored = await this.breaker.execute(() => this.query(field, value));
    } catch (err) {
      this.noteFailure(err);
      if (stale !== undefined) {
        lookups.stale.inc();
        return stale.app;
      }
      lookups.unknown.inc();
      return null;
    }
    this.noteSuccess();
    lookups.store.inc();
    if (generation !== this.generation) {
      // Changed while we asked: answer this caller, cache nothing (the next lookup reads the change).
      return stored?.ok === true ? stored.app : null;
    }
    if (stored === undefined || !stored.ok) {
      if (stored !== undefined) this.refused(stored.id, stored.reason);
      this.forgetEntry(stale?.app);
      (field === 'key' ? this.unknownKeys : this.unknownIds)?.set(value, true);
      return null;
    }
    this.remember(stored.app);
    void this.l2?.set(stored.app);
    return stored.app;
  }

  private query(field: Field, value: string): Promise<StoredApp | undefined> {
    const pending = field === 'key' ? this.store.findByKey(value) : this.store.findById(value);
    return withTimeout(pending, this.options.queryTimeoutMs);
  }

  private remember(app: AppConfig): void {
    const entry: Entry = { app, expiresAt: Date.now() + this.options.ttlMs };
    // A key that moved away from an id must not keep answering with it.
    const previous = this.byId.get(app.id);
    if (previous !== undefined && previous.app.key !== app.key) this.byKey.delete(previous.app.key);
    this.byKey.set(app.key, entry);
    this.byId.set(app.id, entry);
    this.unknownKeys?.delete(app.key);
    this.unknownIds?.delete(app.id);
  }

  private forgetEntry(app: AppConfig | undefined): void {
    if (app === undefined) return;
    if (this.byKey.get(app.key)?.app.id === app.id) this.byKey.delete(app.key);
    if (this.byId.get(app.id)?.app === app) this.byId.delete(app.id);
  }

  /**
   * An app changed in the store (announced on the cluster bus, or made
   * here): drop every cached trace of its id and of the keys it had or has.
   */
  invalidate(id: string, keys: readonly string[] = []): void {
    this.generation++;
    // Lookups in flight read the old row: later callers must not join them.
    this.flights.id.delete(id);
    for (const key of keys) this.flights.key.delete(key);
    const cached = this.byId.get(id);
    if (cached !== undefined) this.byKey.delete(cached.app.key);
    this.byId.delete(id);
    this.unknownIds?.delete(id);
    for (const key of keys) {
      this.byKey.delete(key);
      this.unknownKeys?.delete(key);
    }
    void this.l2?.drop(id, cached === undefined ? keys : [...keys, cached.app.key]);
  }

  /** The app's id's entry without counting a lookup: what the node last read (stale included). */
  cached(id: string): AppConfig | undefined {
    return this.byId.peek(id)?.app;
  }

  status(): AppStoreStatus {
    const breaker = CircuitState[this.breaker.state].toLowerCase();
    const status: AppStoreStatus = { store: this.store.kind, up: this.down === null, breaker };
    if (this.down !== null) {
      status.downSince = this.down.since;
      status.lastError = this.down.error;
    }
    return status;
  }

  private noteFailure(err: unknown): void {
    const now = Date.now();
    const error = err instanceof BrokenCircuitError ? 'circuit open' : err instanceof Error ? err.message : String(err);
    if (this.down === null) {
      this.down = { since: now, loggedAt: now, failures: 1, error };
      metrics.appStoreUp.set(0);
      this.log.error({ store: this.store.kind, error }, 'app store unreachable: cached apps keep serving, unknown apps are refused');
      return;
    }
    this.down.failures++;
    if (!(err instanceof BrokenCircuitError)) this.down.error = error;
    if (now - this.down.loggedAt >= this.options.outageLogMs) {
      this.log.error(
        { store: this.store.kind, error: this.down.error, failures: this.down.failures, downForMs: now - this.down.since },
        'app store still unreachable',
      );
      this.down.loggedAt = now;
      this.down.failures = 0;
    }
  }

  private noteSuccess(): void {
    if (this.down === null) return;
    this.log.info({ store: this.store.kind, downForMs: Date.now() - this.down.since }, 'app store reachable again');
    this.down = null;
    metrics.appStoreUp.set(1);
  }

  private refused(id: string, reason: string): void {
    metrics.appRowsRefused.inc();
    const now = Date.now();
    const last = this.refusedLogged.get(id);
    if (last !== undefined && now - last < this.options.outageLogMs) return;
    this.refusedLogged.set(id, now);
    this.log.warn({ appId: id, reason }, `app ${id} refused: its stored definition is invalid`);
  }
}

function withTimeout<T>(pending: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`app store query timed out after ${ms} ms`)), ms);
  });
  return Promise.race([pending, timeout]).finally(() => clearTimeout(timer));
}
