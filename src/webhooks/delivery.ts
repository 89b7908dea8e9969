import { BrokenCircuitError, circuitBreaker, CircuitState, ConsecutiveBreaker, handleWhenResult, type CircuitBreakerPolicy } from 'cockatiel';
import type { Dispatcher } from 'undici';
import { Backoff } from '../adapters/backoff.js';
import { metrics } from '../metrics/index.js';
import type { Logger } from '../util/logger.js';
import { attemptDelivery, type AttemptOutcome, type AttemptTarget } from './attempt.js';
import { LogLimiter } from './log-limiter.js';
import type { Endpoint } from './routing.js';
import type { QueuedBatch, WebhookQueue } from './types.js';

/** What the deliverer needs to know; the numbers come from config (seconds there, ms here). */
export interface DeliveryOptions {
  readonly attemptTimeoutMs: number;
  readonly retryForMs: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly circuitFailures: number;
  readonly circuitHalfOpenMs: number;
}

/** The app's current credentials, looked up at send time. */
export type AppLookup = (appId: string) => { key: string; secret: string } | undefined;

/** Rejection of `deliver` when the pipeline stops mid-batch: the queue keeps the batch (at least once). */
class DeliveryStopped extends Error {
  override readonly name = 'DeliveryStopped';
  constructor() {
    super('webhook delivery stopped');
  }
}

interface EndpointState {
  readonly endpoint: Endpoint;
  readonly breaker: CircuitBreakerPolicy;
  /** When the breaker last opened, to wait for its half-open probe rather than hammer it. */
  openedAt: number;
}

const isRetry = (result: unknown): boolean => (result as AttemptOutcome).kind === 'retry';

/**
 * Delivers one batch to its endpoint until it is finished: delivered, refused
 * (4xx → dead letter), or out of retry budget (→ dead letter). Retries use
 * full-jitter backoff or the receiver's Retry-After; each endpoint has a
 * circuit breaker so a dead receiver is probed, not hammered.
 */
export class Deliverer {
  private readonly endpoints = new Map<string, EndpointState>();
  private readonly stopController = new AbortController();
  private readonly failureLog = new LogLimiter(10_000);

  constructor(
    endpoints: readonly Endpoint[],
    private readonly apps: AppLookup,
    private readonly queue: WebhookQueue,
    private readonly dispatcher: Dispatcher,
    private readonly options: DeliveryOptions,
    private readonly logger: Logger,
  ) {
    for (const endpoint of endpoints) this.addEndpoint(endpoint);
  }

  /** Deliver to one more endpoint (an app loaded from the app store); a known one keeps its breaker. */
  addEndpoint(endpoint: Endpoint): void {
    if (this.endpoints.has(endpoint.key)) return;
    const { options, logger } = this;
    const breaker = circuitBreaker(handleWhenResult(isRetry), {
      halfOpenAfter: options.circuitHalfOpenMs,
      breaker: new ConsecutiveBreaker(options.circuitFailures),
    });
    const state: EndpointState = { endpoint, breaker, openedAt: 0 };
    breaker.onBreak(() => {
      state.openedAt = Date.now();
      metrics.webhookCircuitOpens.inc();
      logger.warn(
        { appId: endpoint.appId, url: endpoint.label, halfOpenAfterMs: options.circuitHalfOpenMs },
        'webhook endpoint keeps failing: circuit open, deliveries paused until a probe succeeds',
      );
    });
    breaker.onReset(() => logger.info({ appId: endpoint.appId, url: endpoint.label }, 'webhook endpoint answers again: circuit closed'));
    this.endpoints.set(endpoint.key, state);
  }

  /** The queue's consumer: resolves when the batch is finished; rejects (DeliveryStopped) only when stopping. */
  readonly deliver = async (batch: QueuedBatch): Promise<void> => {
    const state = this.endpoints.get(batch.endpoint);
    const app = this.apps(batch.appId);
    if (state === undefined || app === undefined) {
      // A durable queue may hold batches of an endpoint removed from config since.
      await this.giveUp(batch, state?.endpoint, state === undefined ? 'endpoint no longer configured' : 'app no longer configured', 'gone');
      return;
    }
    const target: AttemptTarget = { endpoint: state.endpoint, appKey: app.key, appSecret: app.secret };
    const deadline = batch.createdAt + this.options.retryForMs;
    const backoff = new Backoff(this.options.retryBaseMs, this.options.retryMaxMs);
    let last = 'never attempted';
    for (;;) {
      const stop = this.stopController.signal;
      let outcome: AttemptOutcome;
      try {
        outcome = await state.breaker.execute(() => attemptDelivery(batch, target, this.dispatcher, this.options.attemptTimeoutMs, stop));
      } catch (err) {
        if (!(err instanceof BrokenCircuitError)) throw err;
        // Open: wait for the half-open moment, then the next execute() is the probe.
        const wait = Math.max(10, state.openedAt + this.options.circuitHalfOpenMs - Date.now());
        if (Date.now() + wait > deadline) {
          await this.giveUp(batch, state.endpoint, `retry budget exhausted while the circuit was open (last: ${last})`, 'expired');
          return;
        }
        await this.sleep(wait);
        continue;
      }

      switch (outcome.kind) {
        case 'stopped':
          throw new DeliveryStopped();
        case 'delivered':
          metrics.webhookBatchesSent.inc();
          metrics.webhookDeliveryLatency.observe((Date.now() - batch.createdAt) / 1000);
          return;
        case 'final':
          this.countFailure(state.endpoint, batch, outcome.reason, outcome.detail);
          await this.giveUp(batch, state.endpoint, `refused: ${outcome.detail}`, 'rejected');
          return;
        case 'retry': {
          this.countFailure(state.endpoint, batch, outcome.reason, outcome.detail);
          last = outcome.detail;
          let wait = outcome.retryAfterMs ?? backoff.next();
          if (state.breaker.state === CircuitState.Open) wait = Math.max(wait, state.openedAt + this.options.circuitHalfOpenMs - Date.now());
          if (Date.now() + wait > deadline) {
            await this.giveUp(batch, state.endpoint, `retry budget of ${this.options.retryForMs / 1000} s exhausted (last: ${last})`, 'expired');
            return;
          }
          metrics.webhookRetries.inc();
          await this.sleep(wait);
          break;
        }
      }
    }
  };

  /** Abort attempts and waits in progress: their `deliver` calls reject with DeliveryStopped. */
  stop(): void {
    this.stopController.abort();
  }

  private async giveUp(batch: QueuedBatch, endpoint: Endpoint | undefined, reason: string, label: string): Promise<void> {
    metrics.webhookDeadLettered.inc({ reason: label });
    this.failureLog.maybe(`dead ${batch.endpoint}`, (suppressed) =>
      this.logger.warn(
        { appId: batch.appId, url: endpoint?.label, webhookId: batch.id, reason, suppressedSinceLast: suppressed },
        'webhook batch dead-lettered',
      ),
    );
    await this.queue.deadLetter(batch, reason);
  }

  private countFailure(endpoint: Endpoint, batch: QueuedBatch, reason: string, detail: string): void {
    metrics.webhookAttemptFailures.inc({ reason });
    this.failureLog.maybe(endpoint.key, (suppressed) =>
      this.logger.warn(
        { appId: endpoint.appId, url: endpoint.label, webhookId: batch.id, reason, detail, suppressedSinceLast: suppressed },
        'webhook delivery attempt failed',
      ),
    );
  }

  /** Resolves after `ms`, or rejects with DeliveryStopped at stop. */
  private sleep(ms: number): Promise<void> {
    const signal = this.stopController.signal;
    if (signal.aborted) return Promise.reject(new DeliveryStopped());
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(new DeliveryStopped());
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
