import type { Redis } from 'ioredis';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { AppConfig } from '../config/schema.js';
import { countLimitTrip } from '../metrics/index.js';
import type { Logger } from '../util/logger.js';

/** The HTTP API's per-app limits, each named after its app field (the `limit` label of the trips metric). */
export type ApiLimit = 'maxBackendEventsPerSecond' | 'maxReadRequestsPerSecond';

/** Over the limit: how long until the request would pass. */
export interface RateLimited {
  limit: ApiLimit;
  retryAfterSeconds: number;
}

interface Limiter {
  readonly points: number;
  readonly limiter: RateLimiterAbstract;
}

/**
 * Per-app HTTP API rate limits over one-second windows: in Redis when the
 * node has one (every node counts into the same window: the limit is
 * cluster-wide), in memory otherwise (per node). With Redis failing, each
 * node falls back to its own in-memory window rather than letting all pass.
 */
// Loaded on the first limited request: nodes whose apps have no limits never load it.
type Flexible = typeof import('rate-limiter-flexible');
let flexible: Promise<Flexible> | null = null;

export class ApiRateLimits {
  private readonly limiters = new Map<string, Limiter>();
  /** App id + limit → Date.now() of its last log line. */
  private readonly loggedAt = new Map<string, number>();

  constructor(
    private readonly redis: Redis | null,
    private readonly keyPrefix: string,
    private readonly log: Logger,
  ) {}

  /** Whether cluster-wide (Redis) or per node. */
  get scope(): 'cluster' | 'node' {
    return this.redis === null ? 'node' : 'cluster';
  }

  /** Take `points` from the app's budget for `limit`; null when they fit (or the limit is 0 = unlimited). */
  async consume(app: AppConfig, limit: ApiLimit, points: number): Promise<RateLimited | null> {
    const perSecond = app[limit];
    if (perSecond <= 0) return null;
    const lib = await (flexible ??= import('rate-limiter-flexible'));
    try {
      await this.limiterFor(lib, app.id, limit, perSecond).consume(app.id, Math.max(1, points));
      return null;
    } catch (rejection) {
      if (!(rejection instanceof lib.RateLimiterRes)) {
        // Not a verdict (should not happen with the insurance limiter): never block the API on it.
        this.log.warn({ err: rejection, appId: app.id, limit }, 'rate limiter failed: request let through');
        return null;
      }
      countLimitTrip(limit);
      this.logTrip(app.id, limit, perSecond);
      return { limit, retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
    }
  }

  private limiterFor(lib: Flexible, appId: string, limit: ApiLimit, points: number): RateLimiterAbstract {
    const name = `${appId}\n${limit}`;
    const known = this.limiters.get(name);
    if (known !== undefined && known.points === points) return known.limiter;
    const options = { points, duration: 1, keyPrefix: `${this.keyPrefix}:rl:${limit}:${points}` };
    const memory = new lib.RateLimiterMemory(options);
    const limiter = this.redis === null ? memory : new lib.RateLimiterRedis({ ...options, storeClient: this.redis, insuranceLimiter: memory });
    this.limiters.set(name, { points, limiter });
    return limiter;
  }

  /** One line per app and limit per 10 s: a flood of refused requests is not a flood of log lines. */
  private logTrip(appId: string, limit: ApiLimit, perSecond: number): void {
    const name = `${appId}\n${limit}`;
    const now = Date.now();
    if (now - (this.loggedAt.get(name) ?? 0) < 10_000) return;
    this.loggedAt.set(name, now);
    this.log.warn({ appId, limit, perSecond, scope: this.scope }, `app ${appId} over ${limit}: answering 429`);
  }
}

/** Points a publish takes: one per channel of a trigger, one per event of a batch. */
export function backendEventPoints(route: 'events' | 'batchEvents', body: unknown): number {
  if (typeof body !== 'object' || body === null) return 1;
  if (route === 'batchEvents') {
    const batch = (body as { batch?: unknown }).batch;
    return Array.isArray(batch) ? Math.max(1, batch.length) : 1;
  }
  const channels = (body as { channels?: unknown }).channels;
  return Array.isArray(channels) ? Math.max(1, channels.length) : 1;
}
