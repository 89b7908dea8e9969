import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SwitchboardError } from '../protocol/errors.js';

/**
 * The node's one metric registry. Every node metric is defined here and
 * imported where it is counted; docs/metrics.md lists them all (a test checks).
 * The balancer, a separate process, has its own registry in ./balancer.ts.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'switchboard_' });

const registers = [registry];

export const metrics = {
  connections: new Gauge({ name: 'switchboard_connections', help: 'Open WebSocket connections', labelNames: ['app_id'] as const, registers }),
  newConnections: new Counter({ name: 'switchboard_new_connections_total', help: 'Accepted WebSocket connections', labelNames: ['app_id'] as const, registers }),
  disconnections: new Counter({ name: 'switchboard_disconnections_total', help: 'Closed WebSocket connections by close code', labelNames: ['code'] as const, registers }),
  messagesIn: new Counter({ name: 'switchboard_ws_messages_received_total', help: 'WebSocket messages received from clients', registers }),
  bytesIn: new Counter({ name: 'switchboard_ws_bytes_received_total', help: 'WebSocket payload bytes received from clients', registers }),
  messagesOut: new Counter({ name: 'switchboard_ws_messages_sent_total', help: 'WebSocket messages written to clients (one per delivery)', registers }),
  bytesOut: new Counter({ name: 'switchboard_ws_bytes_sent_total', help: 'WebSocket frame bytes written to clients', registers }),
  socketWrites: new Counter({ name: 'switchboard_socket_writes_total', help: 'Socket write calls after per-turn coalescing', registers }),
  channels: new Gauge({ name: 'switchboard_channels', help: 'Occupied channels', labelNames: ['app_id'] as const, registers }),
  publishes: new Counter({ name: 'switchboard_events_published_total', help: 'Events published to a channel (API and client events)', labelNames: ['source'] as const, registers }),
  httpRequests: new Counter({ name: 'switchboard_http_api_requests_total', help: 'HTTP API requests by route and status', labelNames: ['route', 'status'] as const, registers }),
  publishToWrite: new Histogram({
    name: 'switchboard_publish_to_write_seconds',
    help: 'Time from an event being published on this node to its frames being handed to the sockets',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers,
  }),
  limitTrips: new Counter({ name: 'switchboard_limit_trips_total', help: 'Times a configured limit was hit', labelNames: ['limit'] as const, registers }),
  protocolErrors: new Counter({ name: 'switchboard_protocol_errors_total', help: 'pusher:error and pusher:subscription_error replies sent, by catalogue code (src/protocol/errors.ts)', labelNames: ['code'] as const, registers }),
  handlerFaults: new Counter({ name: 'switchboard_handler_faults_total', help: 'Unexpected exceptions contained to one socket or request', registers }),
  webhookEventsQueued: new Counter({ name: 'switchboard_webhook_events_queued_total', help: 'Webhook events put into a batch (once per endpoint that takes them)', registers }),
  webhookBatchesSent: new Counter({ name: 'switchboard_webhook_batches_sent_total', help: 'Webhook batches a receiver answered with 2xx', registers }),
  webhookRetries: new Counter({ name: 'switchboard_webhook_retries_total', help: 'Webhook attempts scheduled again after a failure', registers }),
  webhookAttemptFailures: new Counter({
    name: 'switchboard_webhook_attempt_failures_total',
    help: 'Failed webhook attempts by reason: network, timeout, 408, 429, 4xx, 5xx',
    labelNames: ['reason'] as const,
    registers,
  }),
  webhookDeadLettered: new Counter({
    name: 'switchboard_webhook_dead_lettered_total',
    help: 'Webhook batches given up on, by reason: rejected (4xx), expired (retry budget), queue_full, gone (app or endpoint removed)',
    labelNames: ['reason'] as const,
    registers,
  }),
  webhookCircuitOpens: new Counter({ name: 'switchboard_webhook_circuit_opens_total', help: 'Times a webhook endpoint circuit breaker opened', registers }),
  webhookQueueDepth: new Gauge({
    name: 'switchboard_webhook_queue_depth',
    help: 'Webhook batches waiting or in flight in the delivery queue (all endpoints)',
    registers,
    // Read from the queue on scrape: a gauge kept up to date by hand would drift from a shared durable queue.
    async collect() {
      this.set(webhookDepthSource === undefined ? 0 : await webhookDepthSource().catch(() => 0));
    },
  }),
  webhookDeliveryLatency: new Histogram({
    name: 'switchboard_webhook_delivery_seconds',
    help: "Time from a batch's first event being emitted to the receiver's 2xx (retries included)",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers,
  }),
};

/** Cross-node metrics: the cluster layer and its broker link. */
export const clusterMetrics = {
  skipped: new Counter({
    name: 'switchboard_cluster_messages_skipped_total',
    help: 'Cross-node messages not sent because the broker link was down (degraded mode) or the broker refused them (kind=refused), by kind',
    labelNames: ['kind'] as const,
    registers,
  }),
  received: new Counter({ name: 'switchboard_cluster_messages_received_total', help: 'Cluster messages received from other nodes, by type', labelNames: ['type'] as const, registers }),
  invalid: new Counter({ name: 'switchboard_cluster_messages_invalid_total', help: 'Cluster payloads dropped because they did not parse or check', registers }),
  requests: new Counter({ name: 'switchboard_cluster_requests_total', help: 'Cluster-wide requests by outcome (complete, partial, local_only)', labelNames: ['outcome'] as const, registers }),
  nodes: new Gauge({ name: 'switchboard_cluster_nodes', help: 'Live nodes this node knows, itself included', registers }),
  nodesDeclaredDead: new Counter({ name: 'switchboard_cluster_nodes_declared_dead_total', help: 'Peers declared dead (timeout, leader verdict or restart)', labelNames: ['reason'] as const, registers }),
  degraded: new Gauge({ name: 'switchboard_cluster_degraded', help: '1 while cross-node delivery is unavailable (broker link down or circuit open)', registers }),
  leader: new Gauge({ name: 'switchboard_cluster_leader', help: '1 while this node holds the leader lease', registers }),
  linkChanges: new Counter({ name: 'switchboard_cluster_link_state_changes_total', help: 'Broker link state changes, by new state', labelNames: ['state'] as const, registers }),
};

/** Channel history (src/history): appends, replays and how recoveries ended. */
export const historyMetrics = {
  appends: new Counter({
    name: 'switchboard_history_appends_total',
    help: 'Events appended to a channel history, by store (memory, redis) and outcome (ok, failed: the event was not published)',
    labelNames: ['store', 'outcome'] as const,
    registers,
  }),
  replayed: new Counter({ name: 'switchboard_history_replayed_events_total', help: 'Missed events replayed to recovering subscribers', registers }),
  recoveries: new Counter({
    name: 'switchboard_history_recoveries_total',
    help: 'Subscriptions that asked to recover, by outcome: recovered, epoch_mismatch, gap_lost (expired, trimmed or beyond size), malformed, no_history, failed (store unreachable)',
    labelNames: ['outcome'] as const,
    registers,
  }),
  reads: new Histogram({
    name: 'switchboard_history_read_seconds',
    help: 'Time to read a channel history position and gap from the store (recovery and HTTP API)',
    labelNames: ['store'] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2],
    registers,
  }),
};

/**
 * The `limit` label of `switchboard_limit_trips_total`: the config option's
 * name, so an alert leads straight to the setting to raise. App options are
 * bare except `app.maxConnections`, which would clash with the node's own.
 */
export const limitNames = [
  'maxConnections',
  'app.maxConnections',
  'maxFrameBytes',
  'maxSendBufferBytes',
  'pongTimeout',
  'inactivityTimeout',
  'userAuthenticationTimeout',
  'maxHttpBodyBytes',
  'httpRequestTimeout',
  'maxClientEventsPerSecond',
  'maxEventPayloadKb',
  'maxEventNameLength',
  'maxPresenceMembersPerChannel',
  'maxPresenceMemberSizeKb',
  'maxChannelsPerPublish',
  'maxBatchSize',
  'webhookMemoryQueueMax',
  'historyMaxSize',
  'dashboardMaxViewers',
] as const;

export type LimitName = (typeof limitNames)[number];

/** Count one trip of a configured limit. */
export function countLimitTrip(limit: LimitName): void {
  metrics.limitTrips.inc({ limit });
}

/** Count one error sent to a client (`pusher:error` or `pusher:subscription_error`), by its catalogue code. */
export function countProtocolError(error: SwitchboardError): void {
  metrics.protocolErrors.inc({ code: error.code });
}

let webhookDepthSource: (() => Promise<number>) | undefined;

/** Where `switchboard_webhook_queue_depth` reads from (the running webhook queue); undefined = 0. */
export function setWebhookDepthSource(source: (() => Promise<number>) | undefined): void {
  webhookDepthSource = source;
}

/** Stop reading the depth from `source`, unless another pipeline has taken over since. */
export function releaseWebhookDepthSource(source: () => Promise<number>): void {
  if (webhookDepthSource === source) webhookDepthSource = undefined;
}
