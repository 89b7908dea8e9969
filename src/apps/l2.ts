import type { Redis } from 'ioredis';
import { appSchema, type AppConfig } from '../config/schema.js';
import type { Logger } from '../util/logger.js';

/**
 * The second cache level: app definitions in Redis, shared by the nodes,
 * so that a node's miss seldom reaches the database. Failures here are
 * never an outage: the lookup goes on to the store.
 */
export class AppL2 {
  private warnedAt = 0;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs: number,
    private readonly log: Logger,
  ) {}

  private name(field: 'key' | 'id', value: string): string {
    return `${this.prefix}:apps:${field}:${value}`;
  }

  async get(field: 'key' | 'id', value: string): Promise<AppConfig | undefined> {
    try {
      const text = await this.redis.get(this.name(field, value));
      if (text === null) return undefined;
      const parsed = appSchema.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data : undefined;
    } catch (err) {
      this.warn(err);
      return undefined;
    }
  }

  async set(app: AppConfig): Promise<void> {
    const text = JSON.stringify(app);
    try {
      await this.redis.multi().set(this.name('key', app.key), text, 'PX', this.ttlMs).set(this.name('id', app.id), text, 'PX', this.ttlMs).exec();
    } catch (err) {
      this.warn(err);
    }
  }

  async drop(id: string, keys: readonly string[]): Promise<void> {
    try {
      await this.redis.del(this.name('id', id), ...keys.map((k) => this.name('key', k)));
    } catch (err) {
      this.warn(err);
    }
  }

  private warn(err: unknown): void {
    const now = Date.now();
    if (now - this.warnedAt < 60_000) return;
    this.warnedAt = now;
    this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'app cache L2 (Redis) failed: going to the store');
  }
}
