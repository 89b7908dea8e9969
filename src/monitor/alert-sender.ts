import { Agent, request } from 'undici';
import { monitorMetrics } from '../metrics/index.js';
import { hmacSha256Hex } from '../protocol/signatures.js';
import type { Logger } from '../util/logger.js';
import { parseRetryAfter } from '../webhooks/attempt.js';
import type { AlertNotice } from './alerts.js';

export interface AlertSenderOptions {
  urls: readonly string[];
  secret: string;
  /** Retry a notice for this long before giving it up. */
  retryForMs: number;
  attemptTimeoutMs: number;
  /** First backoff ceiling; it doubles per retry up to `maxBackoffMs` (full jitter). */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
}

/** Header carrying the hex HMAC-SHA256 of the body under `alertSecret`. */
export const ALERT_SIGNATURE_HEADER = 'x-switchboard-signature';
/** Notices waiting per URL; past it the oldest is dropped (counted), so a dead receiver costs bounded memory. */
const MAX_QUEUED_PER_URL = 1000;
const MAX_RESPONSE_BYTES = 4096;

interface Queued {
  notice: AlertNotice;
  body: string;
  deadline: number;
}

/**
 * POSTs alert notices as signed JSON to every alert URL, in order per URL
 * (a clearing never overtakes its firing), retrying failures with
 * full-jitter exponential backoff until `retryForMs` has passed.
 * A 2xx is delivered; a 4xx other than 408/429 is the receiver's final no.
 */
export class AlertSender {
  private readonly queues = new Map<string, Queued[]>();
  private readonly running = new Set<string>();
  private readonly agent = new Agent({ connections: 4 });
  private readonly stopping = new AbortController();
  private idle: Array<() => void> = [];

  constructor(
    private readonly options: AlertSenderOptions,
    private readonly log: Logger,
  ) {
    for (const url of options.urls) this.queues.set(url, []);
  }

  send(notice: AlertNotice): void {
    if (this.stopping.signal.aborted) return;
    const body = JSON.stringify(notice);
    const deadline = Date.now() + this.options.retryForMs;
    for (const [url, queue] of this.queues) {
      if (queue.length >= MAX_QUEUED_PER_URL) {
        queue.shift();
        monitorMetrics.alertDeliveries.inc({ outcome: 'dropped' });
      }
      queue.push({ notice, body, deadline });
      if (!this.running.has(url)) void this.drain(url, queue);
    }
  }

  /** Resolves when nothing is queued or in flight (tests, shutdown). */
  settled(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Stop retrying; what is still queued is dropped. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.settled();
    await this.agent.close().catch(() => undefined);
  }

  private async drain(url: string, queue: Queued[]): Promise<void> {
    this.running.add(url);
    try {
      while (queue.length > 0 && !this.stopping.signal.aborted) {
        const item = queue[0]!;
        await this.deliver(url, item);
        if (queue[0] === item) queue.shift();
      }
    } finally {
      this.running.delete(url);
      if (this.running.size === 0) {
        const waiting = this.idle;
        this.idle = [];
        for (const resolve of waiting) resolve();
      }
    }
  }

  private async deliver(url: string, item: Queued): Promise<void> {
    const base = this.options.baseBackoffMs ?? 500;
    const max = this.options.maxBackoffMs ?? 30_000;
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.attempt(url, item.body);
      if (outcome.kind === 'delivered') {
        monitorMetrics.alertDeliveries.inc({ outcome: 'delivered' });
        return;
      }
      if (outcome.kind === 'stopped') return;
      if (outcome.kind === 'final') {
        monitorMetrics.alertDeliveries.inc({ outcome: 'rejected' });
        this.log.warn({ url, alertId: item.notice.alertId, status: outcome.detail }, 'alert receiver refused the alert; not retried');
        return;
      }
      const ceiling = Math.min(max, base * 2 ** attempt);
      const wait = outcome.retryAfterMs ?? Math.random() * ceiling;
      if (Date.now() + wait > item.deadline) {
        monitorMetrics.alertDeliveries.inc({ outcome: 'given_up' });
        this.log.error(
          { url, alertId: item.notice.alertId, signal: item.notice.signal, status: item.notice.status, reason: outcome.detail },
          'alert could not be delivered within alertRetryFor; given up',
        );
        return;
      }
      monitorMetrics.alertDeliveries.inc({ outcome: 'retried' });
      this.log.debug({ url, alertId: item.notice.alertId, reason: outcome.detail, waitMs: Math.round(wait) }, 'alert delivery failed; retrying');
      if (!(await sleep(wait, this.stopping.signal))) return;
    }
  }

  private async attempt(
    url: string,
    body: string,
  ): Promise<{ kind: 'delivered' } | { kind: 'stopped' } | { kind: 'final'; detail: string } | { kind: 'retry'; detail: string; retryAfterMs?: number }> {
    const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.options.attemptTimeoutMs)]);
    try {
      const res = await request(url, {
        method: 'POST',
        dispatcher: this.agent,
        signal,
        headers: { 'content-type': 'application/json', [ALERT_SIGNATURE_HEADER]: hmacSha256Hex(this.options.secret, body) },
        body,
        headersTimeout: this.options.attemptTimeoutMs,
        bodyTimeout: this.options.attemptTimeoutMs,
      });
      let read = 0;
      try {
        for await (const chunk of res.body) {
          read += (chunk as Buffer).length;
          if (read > MAX_RESPONSE_BYTES) break;
        }
      } catch {
        // The status is the answer.
      } finally {
        if (!res.body.destroyed) res.body.destroy();
      }
      const status = res.statusCode;
      if (status >= 200 && status < 300) return { kind: 'delivered' };
      if (status === 408 || status === 429 || status >= 500) {
        const header = res.headers['retry-after'];
        const retryAfterMs = parseRetryAfter(Array.isArray(header) ? header[0] : header);
        return retryAfterMs === undefined ? { kind: 'retry', detail: `HTTP ${status}` } : { kind: 'retry', detail: `HTTP ${status}`, retryAfterMs };
      }
      return { kind: 'final', detail: `HTTP ${status}` };
    } catch (err) {
      if (this.stopping.signal.aborted) return { kind: 'stopped' };
      return { kind: 'retry', detail: err instanceof Error ? err.message : String(err) };
    }
  }
}

/** Wait `ms`; false when stopped first. */
function sleep(ms: number, stop: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (stop.aborted) return resolve(false);
    const timer = setTimeout(() => {
      stop.removeEventListener('abort', onStop);
      resolve(true);
    }, ms);
    const onStop = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    stop.addEventListener('abort', onStop, { once: true });
  });
}
