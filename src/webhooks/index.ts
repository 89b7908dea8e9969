import { Agent } from 'undici';
import type { AppConfig, Config } from '../config/schema.js';
import { metrics, releaseWebhookDepthSource, setWebhookDepthSource } from '../metrics/index.js';
import type { Logger } from '../util/logger.js';
import { Batcher } from './batcher.js';
import { Deliverer, type AppLookup } from './delivery.js';
import { LogLimiter } from './log-limiter.js';
import { createQueue } from './queues/create.js';
import { accepts, buildRoutes, type AppRoutes } from './routing.js';
import type { DeadLetter, QueuedBatch, WebhookEvent, WebhookQueue, WebhookSink } from './types.js';

/** The node's webhook pipeline: a sink for events, plus its lifecycle and the dead-letter admin. */
export interface Webhooks extends WebhookSink {
  /** False when no app has webhooks: then nothing is created and every call is a no-op. */
  readonly enabled: boolean;
  /** Create the queue and start delivering every configured endpoint's batches. */
  start(): Promise<void>;
  /** Put open batches into the queue, stop delivering (in-flight attempts are aborted and stay queued), close the queue. */
  stop(): Promise<void>;
  /** The newest `limit` dead letters, newest first. */
  listDead(limit: number): Promise<DeadLetter[]>;
  /** Put dead letters (all, or those batch ids) back at the end of their endpoint's queue; returns how many. */
  replay(ids?: readonly string[]): Promise<number>;
}

export interface WebhooksOptions {
  /** The app's current key and secret by id; default: the apps of `config`. */
  readonly apps?: AppLookup;
  /** The queue to use instead of the one `config.webhookQueue` names (tests, embedding). */
  readonly queue?: WebhookQueue;
}

const disabled: Webhooks = Object.freeze({
  enabled: false,
  wants: () => false,
  emit: () => {},
  start: async () => {},
  stop: async () => {},
  listDead: async () => [],
  replay: async () => 0,
});

/** Build the webhook pipeline for `config`; costs nothing (no queue, no timers) when no app has webhooks. */
export function createWebhooks(config: Config, logger: Logger, options: WebhooksOptions = {}): Webhooks {
  const routes = new Map(buildRoutes(config.apps));
  // With a database store, apps with webhooks may come later (setApp).
  if (routes.size === 0 && config.appStore === 'static') return disabled;
  return new WebhookPipeline(config, routes, logger, options);
}

class WebhookPipeline implements Webhooks {
  readonly enabled = true;
  private readonly batcher: Batcher;
  private readonly apps: AppLookup;
  private readonly log: Logger;
  private readonly warnings = new LogLimiter(10_000);
  private queue: WebhookQueue | undefined;
  private deliverer: Deliverer | undefined;
  private dispatcher: Agent | undefined;
  private state: 'idle' | 'running' | 'stopped' = 'idle';
  /** Hand-overs run one after another so batches reach the queue in the order they closed. */
  private enqueueChain: Promise<void> = Promise.resolve();
  private readonly depth = (): Promise<number> => this.queue?.depth() ?? Promise.resolve(0);

  constructor(
    private readonly config: Config,
    private readonly routes: Map<string, AppRoutes>,
    logger: Logger,
    private readonly options: WebhooksOptions,
  ) {
    this.log = logger.child({ component: 'webhooks' });
    const byId = new Map(config.apps.map((a) => [a.id, a] as const));
    this.apps = options.apps ?? ((id) => this.storeApps.get(id) ?? byId.get(id));
    this.batcher = new Batcher(config.webhookBatchSize, config.webhookBatchMs, (batches) => this.handOver(batches));
  }

  /** Apps loaded from the app store: their current key and secret sign their batches. */
  private readonly storeApps = new Map<string, AppConfig>();

  /**
   * An app from the app store (first use, or changed there): route its
   * events to its endpoints from now on; new endpoints start being consumed.
   */
  setApp(app: AppConfig): void {
    this.storeApps.set(app.id, app);
    const routes = buildRoutes([app]).get(app.id);
    if (routes === undefined) {
      this.routes.delete(app.id);
      return;
    }
    this.routes.set(app.id, routes);
    const deliverer = this.deliverer;
    const queue = this.queue;
    if (deliverer === undefined || queue === undefined || this.state !== 'running') return;
    for (const endpoint of routes.endpoints) deliverer.addEndpoint(endpoint);
    queue
      .start(
        routes.endpoints.map((e) => e.key),
        deliverer.deliver,
      )
      .catch((err: unknown) => this.log.error({ err, appId: app.id }, "could not start consuming an app's webhook endpoints"));
  }

  wants(appId: string, name: WebhookEvent['name']): boolean {
    return this.routes.get(appId)?.wanted.has(name) ?? false;
  }

  emit(appId: string, event: WebhookEvent): void {
    if (this.state !== 'running') return;
    const app = this.routes.get(appId);
    if (app === undefined || !app.wanted.has(event.name)) return;
    try {
      let json: string | undefined;
      for (const endpoint of app.endpoints) {
        if (!accepts(endpoint, event)) continue;
        // Serialised here, inside the guard: an event that cannot be is refused alone, never a whole batch later.
        json ??= JSON.stringify(event);
        this.batcher.add(endpoint, json);
        metrics.webhookEventsQueued.inc();
      }
    } catch (err) {
      // Never into the caller: it is the publish / membership path.
      metrics.handlerFaults.inc();
      this.warnings.maybe('emit', (suppressed) => this.log.error({ err, appId, suppressedSinceLast: suppressed }, 'fault while batching a webhook event'));
    }
  }

  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    const queue = this.options.queue ?? (await createQueue(this.config, this.log));
    this.queue = queue;
    this.dispatcher = new Agent({ keepAliveTimeout: 10_000, connect: { timeout: this.config.webhookAttemptTimeout * 1000 } });
    const endpoints = [...this.routes.values()].flatMap((r) => r.endpoints);
    this.deliverer = new Deliverer(
      endpoints,
      this.apps,
      queue,
      this.dispatcher,
      {
        attemptTimeoutMs: this.config.webhookAttemptTimeout * 1000,
        retryForMs: this.config.webhookRetryFor * 1000,
        retryBaseMs: this.config.webhookRetryBaseMs,
        retryMaxMs: this.config.webhookRetryMaxMs,
        circuitFailures: this.config.webhookCircuitFailures,
        circuitHalfOpenMs: this.config.webhookCircuitHalfOpen * 1000,
      },
      this.log,
    );
    setWebhookDepthSource(this.depth);
    this.state = 'running';
    await queue.start(
      endpoints.map((e) => e.key),
      this.deliverer.deliver,
    );
    this.log.info({ queue: queue.kind, endpoints: endpoints.length }, 'webhook delivery started');
  }

  async stop(): Promise<void> {
    if (this.state !== 'running') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopped';
    this.batcher.flush();
    await this.enqueueChain;
    // The memory queue dies with the process: give what it holds one attempt's time to go out
    // (a graceful stop sends the leaves of the drained clients). Durable queues keep theirs.
    if (this.queue?.kind === 'memory') await this.settle(this.queue, (this.config.webhookAttemptTimeout + 1) * 1000);
    this.deliverer?.stop();
    await this.queue?.close();
    await this.dispatcher?.destroy();
    releaseWebhookDepthSource(this.depth);
  }

  private async settle(queue: WebhookQueue, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while ((await queue.depth()) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  async listDead(limit: number): Promise<DeadLetter[]> {
    return this.queue?.listDead(limit) ?? [];
  }

  async replay(ids?: readonly string[]): Promise<number> {
    return this.queue?.replay(ids) ?? 0;
  }

  private handOver(batches: QueuedBatch[]): void {
    const queue = this.queue;
    if (queue === undefined) return;
    this.enqueueChain = this.enqueueChain.then(async () => {
      for (const batch of batches) {
        try {
          await queue.enqueue(batch);
        } catch (err) {
          this.warnings.maybe('enqueue', (suppressed) =>
            this.log.error({ err, appId: batch.appId, webhookId: batch.id, suppressedSinceLast: suppressed }, 'could not enqueue a webhook batch: it is lost'),
          );
        }
      }
    });
  }
}
