import { z } from 'zod';
import { webhookSchema } from './webhook-schema.js';

/**
 * The one configuration schema. Defaults live here; the loader layers
 * file < env (SWITCHBOARD_*) < flags on top and freezes the result.
 * Top-level scalar options map to `--kebab-case` flags and
 * `SWITCHBOARD_SCREAMING_SNAKE` env names, derived mechanically.
 * Each field's `.describe()` is the one text of what it does: `--help` prints
 * it and `npm run docs:config` writes it into docs/configuration.md, so keep
 * it to one sentence, saying what a client sees when a limit trips.
 */
/** One opt-in history rule of an app (docs/history.md). */
const historyRuleSchema = z
  .object({
    pattern: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z0-9_\-=@,.;*]+$/, 'channel name characters and * only')
      .describe('Channel name with `*` wildcards, matched against the whole name; the first matching rule of the app wins.'),
    size: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(100)
      .describe('Events kept per channel (capped by the node option `historyMaxSize`); a client that missed more gets `recovered: false`.'),
    ttlSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 86400)
      .default(300)
      .describe('Seconds an event stays recoverable; a gap with an older event gets `recovered: false`.'),
  })
  .strict();
/** App fields of the app stores (docs/apps.md): HTTP API rate limits and a rotated secret's grace. */
const appStoreFields = {
  maxBackendEventsPerSecond: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe(
      'Events per second this app may publish through the HTTP API (one per channel of a trigger), cluster-wide with the Redis adapter, else per node; 0 = unlimited. Over it: 429 with `Retry-After`.',
    ),
  maxReadRequestsPerSecond: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe(
      'HTTP API read requests (channel and user queries) per second of this app, cluster-wide with the Redis adapter, else per node; 0 = unlimited. Over it: 429 with `Retry-After`.',
    ),
  previousSecret: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe('The secret before the last `switchboard apps rotate-secret`: signatures made with it still verify until `previousSecretExpiresAt`.'),
  previousSecretExpiresAt: z.number().int().min(0).optional().describe('When `previousSecret` stops verifying, in milliseconds since the epoch.'),
};

export const appSchema = z
  .object({
    id: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[A-Za-z0-9_\-.]+$/, 'letters, digits, _ - . only')
      .describe('App id used in HTTP API paths (`/apps/{id}/...`).'),
    key: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[A-Za-z0-9_\-.]+$/, 'letters, digits, _ - . only')
      .describe('Public key clients connect with (`/app/{key}`); an unknown key is closed with 4001.'),
    secret: z.string().min(1).max(200).describe('Secret that signs channel auth, sign-in and API requests.'),
    name: z.string().max(200).optional().describe('A label.'),
    enabled: z.boolean().default(true).describe('A disabled app refuses connections (close 4003) and API calls (403).'),
    maxConnections: z.number().int().min(0).default(0).describe('Connections of this app on this node; 0 = unlimited. Over it: close 4004.'),
    enableClientEvents: z.boolean().default(true).describe('Allow `client-*` events on private and presence channels; otherwise they get pusher:error.'),
    maxClientEventsPerSecond: z.number().int().min(1).default(10).describe('Client events per second per connection; over it: pusher:error 4301.'),
    allowedOrigins: z
      .array(z.string().min(1))
      .default([])
      .describe('Allowed `Origin` header values ("*" or empty = any); any other origin is closed with 4009.'),
    maxPresenceMembersPerChannel: z
      .number()
      .int()
      .min(1)
      .default(100)
      .describe('Members per presence channel; beyond it the subscription gets subscription_error LimitReached.'),
    maxPresenceMemberSizeKb: z
      .number()
      .min(0.1)
      .default(2)
      .describe('Largest user_info JSON of one presence member, in KB; beyond it the subscription is refused.'),
    maxEventPayloadKb: z
      .number()
      .min(0.1)
      .default(10)
      .describe('Largest event `data` in KB (API and client events); beyond it the API answers 413 and a client gets pusher:error.'),
    maxEventNameLength: z.number().int().min(1).default(200).describe('Longest event name; beyond it the API answers 400 and a client gets pusher:error.'),
    maxChannelsPerPublish: z.number().int().min(1).default(100).describe('Channels in one API trigger; beyond it 400.'),
    maxBatchSize: z.number().int().min(1).default(10).describe('Events in one batch_events call; beyond it 400.'),
    enableSubscriptionCount: z.boolean().default(false).describe('Send `pusher_internal:subscription_count` and answer `subscription_count` in the API.'),
    compression: z.enum(['deflate', 'off']).optional().describe("Overrides the node's `compression` for this app's sockets."),
    userAuthenticationTimeout: z
      .number()
      .min(0)
      .default(0)
      .describe('Seconds a connection may stay without `pusher:signin`; 0 = sign-in not required. Over it: close 4009.'),
    webhooks: z
      .array(webhookSchema)
      .default([])
      .describe("Webhook endpoints of this app (Pusher's format; Soketi's field names are accepted too); see the endpoint fields below."),
    history: z
      .array(historyRuleSchema)
      .max(50)
      .default([])
      .describe(
        'Channels whose events get an offset and are kept for missed-message recovery (`[{pattern, size, ttlSeconds}]`, docs/history.md); none by default.',
      ),
    ...appStoreFields,
  })
  .strict();

export type AppConfig = z.infer<typeof appSchema>;

/** Where apps come from and how they are cached (src/apps, docs/apps.md). */
const appStoreOptions = {
  appStore: z
    .enum(['static', 'postgres', 'mysql'])
    .default('static')
    .describe('Where apps are defined: `static` (the `apps` option), `postgres` or `mysql` (MariaDB too) behind a cache; see docs/apps.md.'),
  appStoreUrl: z.string().min(1).optional().describe('The app database: `postgres://user@host:5432/db` or `mysql://user@host:3306/db`.'),
  appStoreSchema: z
    .enum(['switchboard', 'soketi'])
    .default('switchboard')
    .describe("The apps table's layout: `switchboard` (created by `switchboard apps migrate`) or `soketi` (an existing Soketi `apps` table, read as it is)."),
  appStoreTable: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'a plain SQL table name')
    .optional()
    .describe("The apps table's name; default `switchboard_apps` (schema switchboard) or `apps` (schema soketi)."),
  appStorePoolSize: z.number().int().min(1).max(200).default(10).describe('Database connections per node for app lookups.'),
  appStoreQueryTimeout: z
    .number()
    .min(0.05)
    .max(60)
    .default(2)
    .describe('Seconds an app lookup may take; slower is a failure (counted by the breaker, cached apps keep serving).'),
  appCacheTtl: z
    .number()
    .min(0.1)
    .max(86_400)
    .default(30)
    .describe("Seconds an app stays in the node's cache (L1, and L2 in Redis) before it is read again; without a broker, changes reach the nodes within this."),
  appCacheMax: z.number().int().min(1).default(10_000).describe('Apps the node keeps in its cache (least recently used leave first).'),
  appCacheNegativeTtl: z
    .number()
    .min(0)
    .max(3600)
    .default(10)
    .describe('Seconds an unknown app key or id is remembered as unknown (its connections get 4001 and API calls 404 without a query); 0 = not cached.'),
  appCacheNegativeMax: z.number().int().min(1).default(100_000).describe('Unknown keys and ids the node remembers at most (least recently used leave first).'),
  appStoreBreakerFailures: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(3)
    .describe("Consecutive failed app lookups that open the app store's circuit breaker: lookups then fail fast and cached apps keep serving."),
  appStoreBreakerHalfOpen: z.number().min(0.05).max(3600).default(2).describe('Seconds an open app store breaker waits before one probe lookup.'),
  appStoreOutageLogInterval: z.number().min(1).max(86_400).default(60).describe('Seconds between the log lines of one app store outage.'),
  appSecretGrace: z
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(3600)
    .describe('Seconds the old secret keeps verifying after `switchboard apps rotate-secret` (its `--grace` overrides it).'),
};

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The TLS options a node and a balancer share (each says what its `tlsCert` serves). */
export const tlsKeyField = z.string().min(1).optional().describe('PEM private key file for `tlsCert`.');
export const tlsReloadField = z
  .number()
  .min(0)
  .max(86_400)
  .default(30)
  .describe('Seconds between looks at the certificate files: a renewed pair is loaded without a restart; 0 = never.');

/** A certificate without its key (or the reverse) is a config error, for a node and a balancer alike. */
export function checkTlsPair(c: { tlsCert?: string | undefined; tlsKey?: string | undefined }, ctx: z.RefinementCtx): void {
  if ((c.tlsCert === undefined) !== (c.tlsKey === undefined)) ctx.addIssue({ code: 'custom', path: ['tlsCert'], message: 'tlsCert and tlsKey go together' });
}

export const configSchema = z
  .object({
    host: z.string().min(1).default('0.0.0.0').describe('Address to listen on.'),
    port: z.number().int().min(0).max(65535).default(6001).describe('Port for WebSocket and HTTP (0 = any free port).'),
    logLevel: z.enum(logLevels).default('info').describe('pino log level.'),
    maxConnections: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe(
        'Connections on this node across all apps; 0 = the open-file limit minus `fdHeadroom` (unlimited where that limit cannot be read). Over it: close 4100, and `/ready` answers 503.',
      ),
    maxFrameBytes: z
      .number()
      .int()
      .min(256)
      .max(16 * 1024 * 1024)
      .default(64 * 1024)
      .describe('Largest WebSocket message a client may send, in bytes. Over it: close 1009.'),
    activityTimeout: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(120)
      .describe('Seconds of client silence before the server pings; also sent to clients as activity_timeout.'),
    pongTimeout: z.number().int().min(1).max(600).default(30).describe('Seconds to wait for any frame after a server ping before closing with 4201.'),
    inactivityTimeout: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('Seconds without any subscribe/event/signin from a client before closing with 4202; 0 = off.'),
    maxSendBufferBytes: z
      .number()
      .int()
      .min(1024)
      .default(4 * 1024 * 1024)
      .describe(
        'Unsent bytes a socket may hold before it is closed with 4200 (slow consumer); a client pinging without reading its pongs is cut at the same size.',
      ),
    // Trades a few ms of latency under heavy fan-out for about a third less CPU per delivery (docs/benchmarks.md).
    writeCoalesceMs: z
      .number()
      .int()
      .min(0)
      .max(100)
      .default(15)
      .describe(
        'Milliseconds queued frames may wait for more frames to the same sockets so that they leave in one write, while the node delivers at least `writeCoalesceMinRate` per second; 0 = always write at the end of the event-loop turn.',
      ),
    writeCoalesceMinRate: z
      .number()
      .int()
      .min(0)
      .default(60_000)
      .describe(
        'Deliveries per second (this node, over the last second) from which frames wait `writeCoalesceMs`; below it they leave at the end of their turn; 0 = always wait.',
      ),
    compression: z
      .enum(['deflate', 'off'])
      .default('off')
      .describe('permessage-deflate for frames to clients that offer it (server_no_context_takeover, compressed once per broadcast); others get plain frames.'),
    compressionMinBytes: z.number().int().min(0).default(1024).describe('Frames with a smaller payload (bytes) go uncompressed: deflate saves little on them.'),
    compressionMaxBytesPerSecond: z
      .number()
      .int()
      .min(1)
      .default(64 * 1024 * 1024)
      .describe('Payload bytes this node compresses per second at most; beyond it frames go uncompressed (clients notice only bigger frames).'),
    compressionLevel: z.number().int().min(1).max(9).default(6).describe('zlib level for compressed frames (1 = fastest, 9 = smallest).'),
    maxHttpBodyBytes: z
      .number()
      .int()
      .min(1024)
      .default(1024 * 1024)
      .describe('Largest HTTP API request body in bytes. Over it: 413.'),
    httpRequestTimeout: z
      .number()
      .int()
      .min(1)
      .max(600)
      .default(30)
      .describe('Seconds an HTTP request may take to arrive whole (headers and body); slower senders get 408.'),
    drainSeconds: z
      .number()
      .min(0)
      .max(600)
      .default(5)
      .describe('Seconds over which a graceful shutdown spreads its 4200 closes, so clients reconnect elsewhere gradually.'),
    cacheTtlSeconds: z.number().int().min(1).default(1800).describe('Seconds a cache channel keeps its last event.'),
    maxCachedChannels: z
      .number()
      .int()
      .min(1)
      .default(10_000)
      .describe('Cache channels per app whose last event is kept; the least recently used are dropped first (their next subscriber gets cache_miss).'),
    tlsCert: z.string().min(1).optional().describe('PEM certificate file: serve `wss://` and `https://` directly (with `tlsKey`).'),
    tlsKey: tlsKeyField,
    tlsReload: tlsReloadField,
    adapter: z
      .enum(['local', 'redis', 'nats'])
      .default('local')
      .describe('How nodes reach each other: `local` (one process, or `--workers` through the primary), `redis` or `nats`.'),
    redisUrl: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Redis URL(s), comma-separated (several = shards by channel hash): `redis://`, `rediss://`, `redis-sentinel://h:p,h:p/master`, or alone `redis-cluster://[password@]h:p,h:p` (seed nodes of a Redis Cluster, Redis >= 7; channels by sharded pub/sub).',
      ),
    natsUrl: z.string().min(1).optional().describe('NATS server URL(s) of one NATS cluster, comma-separated.'),
    keyPrefix: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ - only')
      .default('switchboard')
      .describe('Prepended to every Redis key/channel and NATS subject, so deployments can share a broker.'),
    nodeId: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[A-Za-z0-9_\-.:]+$/, 'letters, digits, _ - . : only')
      .optional()
      .describe("This node's id in the cluster (keep it stable across restarts to replace the old run); default: host name and port."),
    heartbeatInterval: z.number().min(0.05).max(60).default(1).describe("Seconds between a node's heartbeats."),
    nodeTimeout: z
      .number()
      .min(0.2)
      .max(600)
      .default(10)
      .describe('Seconds without heartbeats after which a node is dead: its members leave, its occupancy is dropped.'),
    requestTimeout: z.number().min(0.05).max(60).default(2).describe("Seconds a cluster-wide query waits for the other nodes' answers."),
    leaderLease: z
      .number()
      .min(0.5)
      .max(600)
      .default(5)
      .describe('Seconds of the leader lease: a new leader takes over within about this long after the leader dies.'),
    // Messages for one channel in a batch travel as one broker message, so under load every node wakes up less often.
    clusterCoalesceMs: z
      .number()
      .int()
      .min(0)
      .max(100)
      .default(2)
      .describe(
        'Milliseconds a batch of outgoing cluster messages may wait for more, while this node publishes at least `clusterCoalesceMinRate` of them per second; 0 = always send at the end of the event-loop turn.',
      ),
    clusterCoalesceMinRate: z
      .number()
      .int()
      .min(0)
      .default(1000)
      .describe(
        'Cluster messages per second (this node, over the last second) from which batches wait `clusterCoalesceMs`; below it they leave at the end of their turn; 0 = always wait.',
      ),
    webhookQueue: z
      .enum(['memory', 'redis', 'rabbitmq'])
      .default('memory')
      .describe('Where webhook batches wait for delivery: `memory` (this process, bounded; lost on restart), `redis` or `rabbitmq` (durable).'),
    webhookQueueUrl: z.string().min(1).optional().describe("The webhook queue's broker: a `redis://` URL (default: `redisUrl`) or an `amqp://` URL."),
    webhookBatchSize: z.number().int().min(1).max(1000).default(20).describe('Events per webhook request, at most.'),
    webhookBatchMs: z
      .number()
      .int()
      .min(0)
      .max(60_000)
      .default(250)
      .describe('Milliseconds the first event of a webhook batch waits for more before the batch is sent.'),
    webhookLeaveDelay: z
      .number()
      .min(0)
      .max(600)
      .default(3)
      .describe('Seconds `channel_vacated` and `member_removed` wait; a return within it sends neither the leave nor the next join.'),
    webhookAttemptTimeout: z
      .number()
      .min(0.1)
      .max(120)
      .default(4)
      .describe('Seconds one webhook delivery attempt may take, answer included; slower is a failed attempt.'),
    // At most RabbitMQ's default consumer_timeout (30 min): a longer retry loop would see its batch redelivered.
    webhookRetryFor: z
      .number()
      .min(0)
      .max(1800)
      .default(300)
      .describe(
        "Seconds after an event's creation during which failed webhook deliveries are retried (receivers reject a `time_ms` older than 5 minutes); then the batch is dead-lettered.",
      ),
    webhookRetryBaseMs: z
      .number()
      .int()
      .min(1)
      .max(600_000)
      .default(1000)
      .describe(
        "Milliseconds of the first retry's backoff ceiling; it doubles on every retry (full jitter: a random delay up to the ceiling), and a `Retry-After` answer replaces it.",
      ),
    webhookRetryMaxMs: z.number().int().min(1).max(3_600_000).default(60_000).describe('Milliseconds the webhook backoff ceiling stops doubling at.'),
    webhookCircuitFailures: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(5)
      .describe('Consecutive failed attempts to one endpoint that open its circuit breaker: its deliveries pause instead of retrying.'),
    webhookCircuitHalfOpen: z
      .number()
      .min(0.05)
      .max(3600)
      .default(30)
      .describe('Seconds an open circuit breaker waits before one probe attempt; success closes it, failure keeps it open for another period.'),
    webhookMemoryQueueMax: z
      .number()
      .int()
      .min(1)
      .default(10_000)
      .describe(
        'Batches the memory queue holds across all endpoints; beyond it new batches are dead-lettered (metric `switchboard_limit_trips_total{limit="webhookMemoryQueueMax"}`).',
      ),
    historyRedisUrl: z
      .string()
      .min(1)
      .optional()
      .describe(
        'One `redis://` or `rediss://` URL where channel history lives (Redis Streams); default: `redisUrl` with adapter redis; required for history in any cluster (NATS, `--workers`), unset alone = in memory.',
      ),
    historyMaxSize: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(10_000)
      .describe('Largest history `size` an app rule may ask for on this node; a larger one is cut down to it (logged at start).'),
    historyMaxChannels: z
      .number()
      .int()
      .min(1)
      .default(100_000)
      .describe('Channels whose history the in-memory store keeps; the least recently used lose theirs first (their next recovery gets `recovered: false`).'),
    historyMetaTtlSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 86400)
      .default(86_400)
      .describe(
        "Seconds a history channel keeps its epoch and offset after its last event or subscriber, so an idle channel's clients still recover; afterwards a new epoch starts.",
      ),
    ...appStoreOptions,
    adminToken: z
      .string()
      .min(16)
      .optional()
      .describe('Bearer token (16+ characters) for the admin endpoints (`/webhooks/failed`, `/webhooks/replay`, `/admin/...`); unset = they answer 404.'),
    // ---- resource monitor, admission control and scaling advice (docs/operations.md) ----
    fdHeadroom: z
      .number()
      .int()
      .min(0)
      .default(256)
      .describe(
        'With `maxConnections` 0, the connection limit is the open-file limit (`ulimit -n`) minus this many descriptors, kept for the HTTP API, health checks, broker links and refused sockets; over the limit: close 4100.',
      ),
    monitor: z
      .boolean()
      .default(true)
      .describe(
        'Run the resource monitor: sampling, thresholds, alerts, load-based admission control and scaling advice; false = only the connection limit is enforced.',
      ),
    monitorIntervalMs: z
      .number()
      .int()
      .min(100)
      .max(60_000)
      .default(1000)
      .describe('Milliseconds between resource samples (CPU, memory, event loop, connections, message rates).'),
    monitorHistorySeconds: z
      .number()
      .int()
      .min(10)
      .max(86_400)
      .default(600)
      .describe('Seconds of samples kept in memory for trends and the dashboard (`GET /alerts?history=1`).'),
    monitorMinDuration: z
      .number()
      .min(0)
      .max(3600)
      .default(3)
      .describe('Seconds a signal must stay past a threshold (or back under it) before its level changes; the connection count changes level at once.'),
    monitorHysteresis: z
      .number()
      .min(0)
      .max(0.9)
      .default(0.1)
      .describe('Fraction under the warn threshold a signal must fall to clear its warning (critical clears under the warn threshold itself).'),
    monitorConnectionsWarn: z.number().min(0.01).max(1).default(0.85).describe('Warn when connections reach this fraction of the connection limit.'),
    monitorConnectionsCritical: z
      .number()
      .min(0.01)
      .max(1)
      .default(1)
      .describe('Connections-critical at this fraction of the connection limit: new WebSockets get close 4100 and `/ready` answers 503.'),
    monitorLoopDelayWarnMs: z.number().min(1).default(100).describe('Warn when the event-loop delay p99 of an interval reaches this many milliseconds.'),
    monitorLoopDelayCriticalMs: z
      .number()
      .min(1)
      .default(500)
      .describe('Event-loop-critical at this p99 delay in milliseconds: new WebSockets get close 4100 and `/ready` answers 503.'),
    monitorEluWarn: z
      .number()
      .min(0.01)
      .max(1)
      .default(0.85)
      .describe('Warn when the event-loop utilization of an interval reaches this fraction (alert only).'),
    monitorEluCritical: z
      .number()
      .min(0.01)
      .max(1)
      .default(0.98)
      .describe('Critical alert at this event-loop utilization (alert only: the delay signal gates admission).'),
    monitorMemoryWarn: z
      .number()
      .min(0.01)
      .max(1)
      .default(0.8)
      .describe('Warn when memory reaches this fraction of its limit (RSS of the cgroup limit, or V8 heap of its limit, whichever is higher).'),
    monitorMemoryCritical: z
      .number()
      .min(0.01)
      .max(1)
      .default(0.9)
      .describe('Memory-critical at this fraction: new WebSockets get close 4100, `/ready` answers 503, and the slowest consumers are closed with 4200.'),
    monitorCpuWarn: z
      .number()
      .min(0.01)
      .max(64)
      .default(0.85)
      .describe('Warn when the process uses this many cores (1 = one core) over an interval (alert only).'),
    monitorCpuCritical: z.number().min(0.01).max(64).default(0.98).describe('Critical alert at this many cores of process CPU (alert only).'),
    monitorShedPerInterval: z
      .number()
      .int()
      .min(0)
      .max(100_000)
      .default(100)
      .describe('While memory is critical, close up to this many connections per interval with 4200, those with the most unsent bytes first; 0 = never shed.'),
    alertUrls: z
      .array(z.url())
      .max(20)
      .default([])
      .describe('URLs that receive every alert and its clearing as a signed JSON POST (a JSON array in flags and env).'),
    alertSecret: z
      .string()
      .min(16)
      .optional()
      .describe(
        'Secret (16+ characters) that signs alert POSTs: header `X-Switchboard-Signature` is the hex HMAC-SHA256 of the body; needed with `alertUrls`.',
      ),
    alertRetryFor: z
      .number()
      .min(0)
      .max(3600)
      .default(120)
      .describe('Seconds an alert POST is retried (full-jitter exponential backoff from 0.5 s, at most 30 s) before it is given up on and counted.'),
    alertTimeout: z.number().min(0.1).max(60).default(5).describe('Seconds one alert POST attempt may take.'),
    scalingTargetConnections: z
      .number()
      .int()
      .min(0)
      .default(10_000)
      .describe('Scaling advice: target connections per node (HPA average value); 0 = not a signal.'),
    scalingTargetElu: z.number().min(0).max(1).default(0.7).describe('Scaling advice: target event-loop utilization per node; 0 = not a signal.'),
    scalingTargetCpu: z.number().min(0).max(64).default(0).describe('Scaling advice: target process CPU per node in cores; 0 = not a signal.'),
    scalingTolerance: z
      .number()
      .min(0)
      .max(1)
      .default(0.1)
      .describe("Scaling advice: no change while every signal's ratio to its target is within this tolerance of 1 (the HPA default)."),
    scalingStabilizationSeconds: z
      .number()
      .min(0)
      .max(3600)
      .default(300)
      .describe('Scaling advice: a scale-down follows the highest advice of this many seconds (scale-up is at once).'),
    scalingMinNodes: z.number().int().min(1).default(1).describe('Scaling advice: never fewer nodes than this.'),
    scalingMaxNodes: z.number().int().min(1).default(10).describe('Scaling advice: never more nodes than this.'),
    dashboardInterval: z.number().min(0.2).max(60).default(1).describe("Seconds between the live dashboard's updates (`/dashboard`, needs `adminToken`)."),
    dashboardMaxViewers: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(10)
      .describe('Open dashboard feeds per node, and channel watches of its debug console; beyond it 503.'),
    workers: z
      .string()
      .regex(/^(auto|[1-9][0-9]{0,2})$/, 'a number from 1 or "auto"')
      .default('1')
      .describe('Worker processes sharing the port: a number, or `auto` for one per core.'),
    // ---- `switchboard cluster`: the supervisor (src/supervisor; docs/operations.md). Its min/max are scalingMinNodes/scalingMaxNodes. ----
    supervisorInterval: z
      .number()
      .min(0.1)
      .max(300)
      .default(5)
      .describe("`switchboard cluster`: seconds between reads of the leader's scaling advice (`GET /cluster/scaling`)."),
    supervisorScaleUpCooldown: z
      .number()
      .min(0)
      .max(3600)
      .default(30)
      .describe('`switchboard cluster`: seconds after a scaling step completes before the next scale-up (one node per step).'),
    supervisorScaleDownCooldown: z
      .number()
      .min(0)
      .max(3600)
      .default(60)
      .describe(
        "`switchboard cluster`: seconds after a scaling step completes before the next scale-down (on top of the advice's scalingStabilizationSeconds).",
      ),
    supervisorReadyTimeout: z
      .number()
      .min(1)
      .max(600)
      .default(30)
      .describe('`switchboard cluster`: seconds a started node has to answer `/ready` 200; slower counts as a crash (killed, restarted with backoff).'),
    supervisorRestartMaxDelay: z
      .number()
      .min(0.1)
      .max(3600)
      .default(30)
      .describe(
        '`switchboard cluster`: longest wait before restarting a crashed node; the wait doubles from 0.5 s per crash and starts over after a minute up.',
      ),
    supervisorNodeHost: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .describe('`switchboard cluster`: address the node processes listen on (the balancer listens on `host`:`port`).'),
    supervisorNodePortBase: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .default(0)
      .describe('`switchboard cluster`: node N listens on this port + N; 0 = a free port chosen by the OS.'),
    supervisorBalancerConfig: z
      .string()
      .min(1)
      .optional()
      .describe(
        "`switchboard cluster`: JSON or YAML file of the balancer's options (`switchboard balance`; SWITCHBOARD_BALANCER_* env applies too); listen, host and backends are the supervisor's.",
      ),
    appId: z
      .string()
      .min(1)
      .optional()
      .describe('Convenience: the id of a single app from flags/env, replacing `apps`; `appId`, `appKey` and `appSecret` go together.'),
    appKey: z.string().min(1).optional().describe('The key of the single app of `appId`.'),
    appSecret: z.string().min(1).optional().describe('The secret of the single app of `appId`.'),
    // Zod 4 returns a default as-is without parsing it, so the development app is run
    // through appSchema here to get its own defaults (enabled, limits); a factory gives
    // every load a fresh array, so freezing one config never freezes the schema's default.
    apps: z
      .array(appSchema)
      .min(1)
      .default(() => [appSchema.parse({ id: 'app-id', key: 'app-key', secret: 'app-secret', name: 'development' })])
      .meta({ description: 'The apps this node serves (a JSON array in flags and env; see Apps).', defaultLabel: 'the development app' }),
  })
  .strict()
  .superRefine((c, ctx) => {
    checkTlsPair(c, ctx);
    const single = [c.appId, c.appKey, c.appSecret].filter((v) => v !== undefined).length;
    if (single !== 0 && single !== 3) {
      ctx.addIssue({ code: 'custom', path: ['appId'], message: 'appId, appKey and appSecret go together' });
    }
    if (c.adapter === 'redis' && c.redisUrl === undefined) ctx.addIssue({ code: 'custom', path: ['redisUrl'], message: 'adapter redis needs redisUrl' });
    if (c.appStore !== 'static' && c.appStoreUrl === undefined)
      ctx.addIssue({ code: 'custom', path: ['appStoreUrl'], message: `appStore ${c.appStore} needs appStoreUrl` });
    if (c.adapter === 'nats' && c.natsUrl === undefined) ctx.addIssue({ code: 'custom', path: ['natsUrl'], message: 'adapter nats needs natsUrl' });
    if (c.webhookQueue === 'redis' && c.webhookQueueUrl === undefined && c.redisUrl === undefined) {
      ctx.addIssue({ code: 'custom', path: ['webhookQueueUrl'], message: 'webhookQueue redis needs webhookQueueUrl or redisUrl' });
    }
    const queueUrl = c.webhookQueueUrl ?? c.redisUrl;
    if (c.webhookQueue === 'redis' && queueUrl !== undefined && !/^rediss?:\/\/[^,]+$/.test(queueUrl)) {
      ctx.addIssue({
        code: 'custom',
        path: [c.webhookQueueUrl === undefined ? 'redisUrl' : 'webhookQueueUrl'],
        message: 'the redis webhook queue needs one redis:// or rediss:// URL (not a shard list, Sentinel or Cluster): set webhookQueueUrl',
      });
    }
    if (c.webhookQueue === 'rabbitmq' && c.webhookQueueUrl === undefined) {
      ctx.addIssue({ code: 'custom', path: ['webhookQueueUrl'], message: 'webhookQueue rabbitmq needs webhookQueueUrl (amqp://...)' });
    }
    if (c.webhookRetryBaseMs > c.webhookRetryMaxMs) {
      ctx.addIssue({ code: 'custom', path: ['webhookRetryMaxMs'], message: 'webhookRetryMaxMs must be at least webhookRetryBaseMs' });
    }
    if (c.heartbeatInterval * 2 > c.nodeTimeout) {
      ctx.addIssue({ code: 'custom', path: ['nodeTimeout'], message: 'nodeTimeout must be at least twice heartbeatInterval' });
    }
    if (c.alertUrls.length > 0 && c.alertSecret === undefined)
      ctx.addIssue({ code: 'custom', path: ['alertSecret'], message: 'alertUrls need alertSecret (alerts are signed)' });
    if (c.scalingMinNodes > c.scalingMaxNodes)
      ctx.addIssue({ code: 'custom', path: ['scalingMaxNodes'], message: 'scalingMaxNodes must be at least scalingMinNodes' });
    if (c.monitorConnectionsWarn > c.monitorConnectionsCritical)
      ctx.addIssue({ code: 'custom', path: ['monitorConnectionsWarn'], message: 'a warn threshold must not exceed its critical threshold' });
    if (c.monitorLoopDelayWarnMs > c.monitorLoopDelayCriticalMs)
      ctx.addIssue({ code: 'custom', path: ['monitorLoopDelayWarnMs'], message: 'a warn threshold must not exceed its critical threshold' });
    if (c.monitorEluWarn > c.monitorEluCritical)
      ctx.addIssue({ code: 'custom', path: ['monitorEluWarn'], message: 'a warn threshold must not exceed its critical threshold' });
    if (c.monitorMemoryWarn > c.monitorMemoryCritical)
      ctx.addIssue({ code: 'custom', path: ['monitorMemoryWarn'], message: 'a warn threshold must not exceed its critical threshold' });
    if (c.monitorCpuWarn > c.monitorCpuCritical)
      ctx.addIssue({ code: 'custom', path: ['monitorCpuWarn'], message: 'a warn threshold must not exceed its critical threshold' });
    const historyUrl = c.historyRedisUrl ?? (c.adapter === 'redis' ? c.redisUrl : undefined);
    const clustered = c.adapter !== 'local' || c.workers !== '1';
    if (c.apps.some((app) => app.history.length > 0) && clustered && historyUrl === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['historyRedisUrl'],
        message: 'history in a cluster needs one shared store: set historyRedisUrl (a redis:// URL; NATS and --workers keep no history of their own)',
      });
    }
    if (
      historyUrl !== undefined &&
      (c.historyRedisUrl !== undefined || c.apps.some((app) => app.history.length > 0)) &&
      !/^rediss?:\/\/[^,]+$/.test(historyUrl)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: [c.historyRedisUrl === undefined ? 'redisUrl' : 'historyRedisUrl'],
        message: 'channel history needs one redis:// or rediss:// URL (not a shard list, Sentinel or Cluster): set historyRedisUrl',
      });
    }
    const ids = new Set<string>();
    const keys = new Set<string>();
    c.apps.forEach((app, i) => {
      if (ids.has(app.id)) ctx.addIssue({ code: 'custom', path: ['apps', i, 'id'], message: `duplicate app id ${app.id}` });
      if (keys.has(app.key)) ctx.addIssue({ code: 'custom', path: ['apps', i, 'key'], message: `duplicate app key ${app.key}` });
      ids.add(app.id);
      keys.add(app.key);
    });
  });

export type ConfigInput = z.input<typeof configSchema>;
export type Config = Readonly<z.infer<typeof configSchema>>;
