import { request, type Dispatcher } from 'undici';
import { webhookSignature } from '../protocol/signatures.js';
import type { Endpoint } from './routing.js';
import type { QueuedBatch } from './types.js';

/** Bytes of a receiver's answer that are read (then dropped); beyond it the connection is cut. */
const MAX_RESPONSE_BYTES = 4096;

/** What one attempt came to. `retry` outcomes count against the circuit breaker; `final` ones are the receiver's clear "no". */
export type AttemptOutcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'retry'; reason: FailureReason; status?: number; retryAfterMs?: number; detail: string }
  | { kind: 'final'; reason: '4xx'; status: number; detail: string }
  | { kind: 'stopped' };

/** The `reason` label of switchboard_webhook_attempt_failures_total. */
type FailureReason = 'network' | 'timeout' | '4xx' | '5xx' | '408' | '429';

export interface AttemptTarget {
  readonly endpoint: Endpoint;
  readonly appKey: string;
  readonly appSecret: string;
}

/**
 * POST one batch once. The whole attempt (connect, send, headers and the
 * answer's body) is bounded by `timeoutMs`; at most MAX_RESPONSE_BYTES of the
 * answer are read, so a receiver that streams megabytes back costs nothing.
 */
export async function attemptDelivery(
  batch: QueuedBatch,
  target: AttemptTarget,
  dispatcher: Dispatcher,
  timeoutMs: number,
  stop: AbortSignal,
): Promise<AttemptOutcome> {
  if (stop.aborted) return { kind: 'stopped' };
  // One controller for both causes, linked to `stop` by a listener removed afterwards:
  // AbortSignal.any() on the long-lived stop signal would keep every attempt's signal reachable.
  const attempt = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    attempt.abort();
  }, timeoutMs);
  const onStop = (): void => attempt.abort();
  stop.addEventListener('abort', onStop, { once: true });
  const signal = attempt.signal;
  try {
    let status: number;
    let retryAfter: string | string[] | undefined;
    try {
      const res = await request(target.endpoint.url, {
        method: 'POST',
        dispatcher,
        signal,
        headers: requestHeaders(batch, target),
        body: batch.body,
        // Our own deadline covers the whole attempt; these only stop undici's longer defaults from mattering.
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = res.statusCode;
      retryAfter = res.headers['retry-after'];
      await drain(res.body);
    } catch (err) {
      if (stop.aborted) return { kind: 'stopped' };
      if (timedOut || isTimeoutError(err)) return { kind: 'retry', reason: 'timeout', detail: `no complete answer within ${timeoutMs} ms` };
      return { kind: 'retry', reason: 'network', detail: describeError(err) };
    }
    return classify(status, retryAfter);
  } finally {
    clearTimeout(timer);
    stop.removeEventListener('abort', onStop);
  }
}

/** The request's headers: the endpoint's own first, then the four that no configuration may replace. */
function requestHeaders(batch: QueuedBatch, target: AttemptTarget): Record<string, string> {
  return {
    ...target.endpoint.headers,
    'content-type': 'application/json',
    'x-pusher-key': target.appKey,
    // Signed now rather than at enqueue: a rotated secret applies to batches still waiting.
    'x-pusher-signature': webhookSignature(target.appSecret, batch.body),
    'x-switchboard-webhook-id': batch.id,
  };
}

function classify(status: number, retryAfter: string | string[] | undefined): AttemptOutcome {
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  const detail = `HTTP ${status}`;
  if (status === 408 || status === 429) {
    const retryAfterMs = parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
    return retryAfterMs === undefined
      ? { kind: 'retry', reason: status === 408 ? '408' : '429', status, detail }
      : { kind: 'retry', reason: status === 408 ? '408' : '429', status, retryAfterMs, detail };
  }
  if (status >= 500) {
    const retryAfterMs = parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
    return retryAfterMs === undefined ? { kind: 'retry', reason: '5xx', status, detail } : { kind: 'retry', reason: '5xx', status, retryAfterMs, detail };
  }
  // 1xx/3xx are not followed (a webhook is not a browser); like other 4xx they will not get better by retrying.
  return { kind: 'final', reason: '4xx', status, detail };
}

/** `Retry-After` as delay-seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // Every HTTP-date form starts with the day's name; Date.parse alone would read "-5" as a year.
  if (!/^[A-Za-z]{3}/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Read and drop up to MAX_RESPONSE_BYTES so the connection can be reused; cut it beyond that. */
async function drain(body: Dispatcher.ResponseData['body']): Promise<void> {
  let read = 0;
  try {
    for await (const chunk of body) {
      read += (chunk as Buffer).length;
      if (read > MAX_RESPONSE_BYTES) break;
    }
  } catch {
    // The status is what counts: an answer cut short by the deadline or the peer is still an answer.
  } finally {
    if (!body.destroyed) body.destroy();
  }
}

function isTimeoutError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    const code = (err as { code?: unknown }).code ?? (cause as { code?: unknown } | undefined)?.code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
