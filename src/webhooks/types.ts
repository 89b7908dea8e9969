import type { AppConfig } from '../config/schema.js';
/**
 * The contract between the node and its webhooks: what the membership model
 * and the client-event path hand over (WebhookSink), and what a delivery
 * queue driver does (WebhookQueue). Pusher's event shapes, field for field.
 */

export type WebhookEvent =
  | { name: 'channel_occupied'; channel: string }
  | { name: 'channel_vacated'; channel: string }
  | { name: 'member_added'; channel: string; user_id: string }
  | { name: 'member_removed'; channel: string; user_id: string }
  | { name: 'client_event'; channel: string; event: string; data: string; socket_id: string; user_id?: string }
  | { name: 'cache_miss'; channel: string }
  | { name: 'subscription_count'; channel: string; subscription_count: number };

/** Where the node hands webhook events. Must be cheap and never throw: it runs beside the publish path. */
export interface WebhookSink {
  /** Whether the app has an endpoint that wants this event type (lets callers skip building events). */
  wants(appId: string, name: WebhookEvent['name']): boolean;
  emit(appId: string, event: WebhookEvent): void;
  /** An app's webhook endpoints are (now) these: an app loaded from the app store, or changed there. */
  setApp?(app: AppConfig): void;
}

export const noWebhooks: WebhookSink = { wants: () => false, emit: () => {} };

/** One request's worth of events for one endpoint: the unit a queue stores and delivers. */
export interface QueuedBatch {
  /** Sent as X-Switchboard-Webhook-Id; the same on every attempt, so receivers can drop duplicates. */
  readonly id: string;
  readonly appId: string;
  /** Stable key of the endpoint (app id and the endpoint's URL); batches of one key are delivered in order. */
  readonly endpoint: string;
  /** The exact body bytes (UTF-8 JSON `{"time_ms":...,"events":[...]}`); signed at send time with the app's secret. */
  readonly body: string;
  /** time_ms of the body: retries stop `webhookRetryFor` seconds after it. */
  readonly createdAt: number;
}

/** A batch given up on, kept for `switchboard webhooks failed|replay`. */
export interface DeadLetter {
  readonly batch: QueuedBatch;
  readonly reason: string;
  readonly failedAt: number;
}

/**
 * A delivery queue. Per endpoint, one batch at a time and in enqueue order.
 * `deliver` resolves once the batch is finished (delivered, or handed to
 * deadLetter); if it rejects, or the consuming process dies, the batch is
 * delivered again later (at least once).
 */
export interface WebhookQueue {
  readonly kind: 'memory' | 'redis' | 'rabbitmq';
  /** Resolves once the batch is stored as durably as the driver can store it. */
  enqueue(batch: QueuedBatch): Promise<void>;
  /** Begin consuming the given endpoints' batches. */
  start(endpoints: readonly string[], deliver: (batch: QueuedBatch) => Promise<void>): Promise<void>;
  deadLetter(batch: QueuedBatch, reason: string): Promise<void>;
  listDead(limit: number): Promise<DeadLetter[]>;
  /** Put dead letters (all, or those ids) back at the end of their endpoint's queue; returns how many. */
  replay(ids?: readonly string[]): Promise<number>;
  /** Batches waiting or in flight, all endpoints. */
  depth(): Promise<number>;
  close(): Promise<void>;
}
