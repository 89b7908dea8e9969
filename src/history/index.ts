import type { Config } from '../config/schema.js';
import type { AppState } from '../core/app-state.js';
import { countLimitTrip } from '../metrics/index.js';
import type { Logger } from '../util/logger.js';
import { AppHistory } from './app-history.js';
import { MemoryHistoryStore } from './memory-store.js';
import { RedisHistoryStore } from './redis-store.js';
import { HistoryRules } from './rules.js';
import type { HistoryStore } from './store.js';

export { AppHistory } from './app-history.js';

/**
 * The node's channel history: one store (memory alone, Redis when
 * `historyRedisUrl` or a Redis adapter gives one) and each app's rules.
 * Apps without rules get no AppHistory, and their hot path is unchanged.
 */
export class NodeHistory {
  private readonly apps = new Map<string, AppHistory>();
  readonly store: HistoryStore;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    const sink = (appId: string, channel: string, offset: number, json: string, except: string | undefined): void => {
      this.apps.get(appId)?.deliver(channel, offset, json, except);
    };
    const url = this.used || config.historyRedisUrl !== undefined ? historyRedisUrl(config) : undefined;
    this.store =
      url === undefined
        ? new MemoryHistoryStore(sink, { maxChannels: config.historyMaxChannels, metaTtlMs: config.historyMetaTtlSeconds * 1000 })
        : new RedisHistoryStore(sink, { url, prefix: config.keyPrefix, metaTtlMs: config.historyMetaTtlSeconds * 1000, logger: log });
  }

  /** Whether any app has history rules (else nothing is connected or started). */
  get used(): boolean {
    return this.config.apps.some((app) => app.history.length > 0);
  }

  /** Connect the store (Redis). Waits up to `waitMs`; an unreachable Redis is retried in the background (history publishes answer 503 meanwhile). */
  async start(waitMs = 3000): Promise<void> {
    if (!(this.store instanceof RedisHistoryStore)) return;
    let timer: NodeJS.Timeout | undefined;
    const connected = this.store.connect().then(
      () => true,
      (err: unknown) => {
        this.log.warn({ err }, 'history redis unreachable at start (retrying)');
        return false;
      },
    );
    const waited = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), waitMs)));
    await Promise.race([connected, waited]);
    clearTimeout(timer);
  }

  /** The app's history, or null when it has no rules. */
  attach(app: AppState): AppHistory | null {
    const rules = new HistoryRules(app.config, this.config.historyMaxSize);
    if (rules.empty) return null;
    for (const pattern of rules.capped) {
      countLimitTrip('historyMaxSize');
      this.log.warn({ appId: app.config.id, pattern, historyMaxSize: this.config.historyMaxSize }, 'history rule size cut down to historyMaxSize');
    }
    const history = new AppHistory(app, rules, this.store, this.log);
    this.apps.set(app.config.id, history);
    return history;
  }

  async stop(): Promise<void> {
    await this.store.close();
  }
}

/** The Redis the node keeps history in, or undefined for memory (a node alone). */
function historyRedisUrl(config: Config): string | undefined {
  return config.historyRedisUrl ?? (config.adapter === 'redis' ? config.redisUrl : undefined);
}
