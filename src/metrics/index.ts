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
  newConnections: new Counter({
    name: 'switchboard_new_connections_total',
    help: 'Accepted WebSocket connections',
    labelNames: ['app_id'] as const,
    registers,
  }),
  disconnections: new Counter({
    name: 'switchboard_disconnections_total',
    help: 'Closed WebSocket connections by close code',
    labelNames: ['code'] as const,
    registers,
  }),
  messagesIn: new Counter({ name: 'switchboard_ws_messages_received_total', help: 'WebSocket messages received from clients', registers }),
  bytesIn: new Counter({ name: 'switchboard_ws_bytes_received_total', help: 'WebSocket payload bytes received from clients', registers }),
  messagesOut: new Counter({ name: 'switchboard_ws_messages_sent_total', help: 'WebSocket messages written to clients (one per delivery)', registers }),
  bytesOut: new Counter({ name: 'switchboard_ws_bytes_sent_total', help: 'WebSocket frame bytes written to clients', registers }),
  compressions: new Counter({
    name: 'switchboard_ws_compressions_total',
    help: 'Payloads deflated for permessage-deflate sockets (one per broadcast per window size, not per subscriber)',
    registers,
  }),
  socketWrites: new Counter({ name: 'switchboard_socket_writes_total', help: 'Socket write calls after per-turn coalescing', registers }),
  channels: new Gauge({ name: 'switchboard_channels', help: 'Occupied channels', labelNames: ['app_id'] as const, registers }),
  publishes: new Counter({
    name: 'switchboard_events_published_total',
    help: 'Events published to a channel (API and client events)',
    labelNames: ['source'] as const,
    registers,
  }),
  httpRequests: new Counter({
    name: 'switchboard_http_api_requests_total',
    help: 'HTTP API requests by route and status',
    labelNames: ['route', 'status'] as const,
    registers,
  }),
  publishToWrite: new Histogram({
    name: 'switchboard_publish_to_write_seconds',
    help: 'Time from an event being published on this node to its frames being handed to the sockets',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers,
  }),
  limitTrips: new Counter({ name: 'switchboard_limit_trips_total', help: 'Times a configured limit was hit', labelNames: ['limit'] as const, registers }),
  protocolErrors: new Counter({
    name: 'switchboard_protocol_errors_total',
    help: 'pusher:error and pusher:subscription_error replies sent, by catalogue code (src/protocol/errors.ts)',
    labelNames: ['code'] as const,
    registers,
  }),
  handlerFaults: new Counter({ name: 'switchboard_handler_faults_total', help: 'Unexpected exceptions contained to one socket or request', registers }),
  webhookEventsQueued: new Counter({
    name: 'switchboard_webhook_events_queued_total',
    help: 'Webhook events put into a batch (once per endpoint that takes them)',
    registers,
  }),
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
  webhookQueuesLost: new Counter({
    name: 'switchboard_webhook_queues_lost_total',
    help: 'Webhook endpoint queues found missing at the broker after a reconnect (deleted, or lost in a broker crash), with the batches in them',
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
  appStoreQueries: new Counter({
    name: 'switchboard_app_store_queries_total',
    help: 'App lookups sent to the app database, by op (by_key, by_id, list) and outcome (found, none, error)',
    labelNames: ['op', 'outcome'] as const,
    registers,
  }),
  appStoreUp: new Gauge({
    name: 'switchboard_app_store_up',
    help: '1 while the app store answers (or is static), 0 during an outage (cached apps keep serving)',
    registers,
  }),
  appCacheLookups: new Counter({
    name: 'switchboard_app_cache_lookups_total',
    help: 'App lookups by where they were answered: l1, negative, l2, store, stale (store down, cached copy served), unknown',
    labelNames: ['result'] as const,
    registers,
  }),
  appRowsRefused: new Counter({
    name: 'switchboard_app_rows_refused_total',
    help: 'App rows refused as invalid (malformed webhooks JSON, a negative limit...): that app is treated as unknown',
    registers,
  }),
  appChanges: new Counter({
    name: 'switchboard_app_changes_total',
    help: 'App change announcements applied by this node (its cached copy dropped)',
    registers,
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
  received: new Counter({
    name: 'switchboard_cluster_messages_received_total',
    help: 'Cluster messages received from other nodes, by type',
    labelNames: ['type'] as const,
    registers,
  }),
  invalid: new Counter({ name: 'switchboard_cluster_messages_invalid_total', help: 'Cluster payloads dropped because they did not parse or check', registers }),
  requests: new Counter({
    name: 'switchboard_cluster_requests_total',
    help: 'Cluster-wide requests by outcome (complete, partial, local_only)',
    labelNames: ['outcome'] as const,
    registers,
  }),
  nodes: new Gauge({ name: 'switchboard_cluster_nodes', help: 'Live nodes this node knows, itself included', registers }),
  nodesDeclaredDead: new Counter({
    name: 'switchboard_cluster_nodes_declared_dead_total',
    help: 'Peers declared dead (timeout, leader verdict or restart)',
    labelNames: ['reason'] as const,
    registers,
  }),
  degraded: new Gauge({
    name: 'switchboard_cluster_degraded',
    help: '1 while cross-node delivery is unavailable (broker link down or circuit open)',
    registers,
  }),
  leader: new Gauge({ name: 'switchboard_cluster_leader', help: '1 while this node holds the leader lease', registers }),
  linkChanges: new Counter({
    name: 'switchboard_cluster_link_state_changes_total',
    help: 'Broker link state changes, by new state',
    labelNames: ['state'] as const,
    registers,
  }),
};

/** The resource monitor, admission control and scaling advice (src/monitor, docs/operations.md). */
export const monitorMetrics = {
  cpu: new Gauge({ name: 'switchboard_monitor_cpu_cores', help: 'Process CPU over the last monitor interval, in cores', registers }),
  hostCpu: new Gauge({ name: 'switchboard_monitor_host_cpu_ratio', help: 'Host CPU busy over the last monitor interval, fraction of all cores', registers }),
  memoryRatio: new Gauge({
    name: 'switchboard_monitor_memory_ratio',
    help: 'The higher of RSS over the cgroup memory limit and V8 heap used over its limit',
    registers,
  }),
  memoryLimit: new Gauge({ name: 'switchboard_monitor_memory_limit_bytes', help: 'The cgroup memory limit (0 when there is none)', registers }),
  elu: new Gauge({
    name: 'switchboard_monitor_event_loop_utilization',
    help: 'Event-loop utilization over the last monitor interval (not since start)',
    registers,
  }),
  loopDelayP99: new Gauge({ name: 'switchboard_monitor_event_loop_delay_seconds', help: 'p99 event-loop delay over the last monitor interval', registers }),
  connectionLimit: new Gauge({
    name: 'switchboard_monitor_connection_limit',
    help: 'Connections this node admits (maxConnections, or the open-file limit minus fdHeadroom; 0 = none)',
    registers,
  }),
  messageRate: new Gauge({
    name: 'switchboard_monitor_messages_per_second',
    help: 'WebSocket messages per second over the last monitor interval, by direction (in, out)',
    labelNames: ['direction'] as const,
    registers,
  }),
  sendBuffer: new Gauge({ name: 'switchboard_monitor_send_buffer_bytes', help: 'Bytes queued unsent in the WebSocket sockets', registers }),
  brokerRtt: new Gauge({ name: 'switchboard_monitor_broker_rtt_seconds', help: "Round trip of this node's last heartbeat through the broker", registers }),
  level: new Gauge({ name: 'switchboard_monitor_level', help: "Each signal's level: 0 ok, 1 warn, 2 critical", labelNames: ['signal'] as const, registers }),
  alerts: new Counter({
    name: 'switchboard_monitor_alerts_total',
    help: 'Alert notices by signal and new level (ok = a clearing)',
    labelNames: ['signal', 'level'] as const,
    registers,
  }),
  alertDeliveries: new Counter({
    name: 'switchboard_monitor_alert_deliveries_total',
    help: 'Alert POST outcomes: delivered, retried, rejected (4xx), given_up (alertRetryFor passed), dropped (queue full)',
    labelNames: ['outcome'] as const,
    registers,
  }),
  admissionRefused: new Counter({
    name: 'switchboard_admission_refused_total',
    help: 'WebSockets refused with 4100 because a load signal was critical, by signal',
    labelNames: ['signal'] as const,
    registers,
  }),
  shed: new Counter({
    name: 'switchboard_monitor_shed_connections_total',
    help: 'Connections closed with 4200 under critical memory, those with the most unsent bytes first',
    registers,
  }),
  desiredNodes: new Gauge({
    name: 'switchboard_scaling_desired_nodes',
    help: "Nodes the cluster should run, by the HPA rule (the leader's advice)",
    registers,
  }),
  deletionCost: new Gauge({
    name: 'switchboard_pod_deletion_cost',
    help: "Hint for the pod-deletion-cost annotation: this node's connections (fewer = cheaper to remove)",
    registers,
  }),
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
  'maxBackendEventsPerSecond',
  'maxReadRequestsPerSecond',
  'compressionMaxBytesPerSecond',
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
