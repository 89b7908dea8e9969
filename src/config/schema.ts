import { z } from 'zod';
import { webhookSchema } from './webhook-schema.js';

/**
 * The one configuration schema. Defaults live here; the loader layers
 * file < env (SWITCHBOARD_*) < flags on top and freezes the result.
 * Top-level scalar options map to `--kebab-case` flags and
 * `SWITCHBOARD_SCREAMING_SNAKE` env names, derived mechanically.
 */
export const appSchema = z
  .object({
    id: z.string().min(1).max(100).regex(/^[A-Za-z0-9_\-.]+$/, 'letters, digits, _ - . only'),
    key: z.string().min(1).max(100).regex(/^[A-Za-z0-9_\-.]+$/, 'letters, digits, _ - . only'),
    secret: z.string().min(1).max(200),
    name: z.string().max(200).optional(),
    enabled: z.boolean().default(true),
    /** Connections of this app on this node; 0 = unlimited. Over it: close 4004. */
    maxConnections: z.number().int().min(0).default(0),
    enableClientEvents: z.boolean().default(true),
    /** Client events per second per connection; over it: pusher:error 4301. */
    maxClientEventsPerSecond: z.number().int().min(1).default(10),
    /** Allowed `Origin` header values ("*" or empty = any); else close 4009. */
    allowedOrigins: z.array(z.string().min(1)).default([]),
    maxPresenceMembersPerChannel: z.number().int().min(1).default(100),
    /** Max bytes of one presence member's user_info JSON. */
    maxPresenceMemberSizeKb: z.number().min(0.1).default(2),
    maxEventPayloadKb: z.number().min(0.1).default(10),
    maxEventNameLength: z.number().int().min(1).default(200),
    maxChannelsPerPublish: z.number().int().min(1).default(100),
    maxBatchSize: z.number().int().min(1).default(10),
    enableSubscriptionCount: z.boolean().default(false),
    /** Seconds a connection may stay without `pusher:signin` when required; 0 = not required. Over it: close 4009. */
    userAuthenticationTimeout: z.number().min(0).default(0),
    /** Where this app's webhooks go (Pusher's format; Soketi's field names are accepted too). */
    webhooks: z.array(webhookSchema).default([]),
  })
  .strict();

export type AppConfig = z.infer<typeof appSchema>;

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const configSchema = z
  .object({
    host: z.string().min(1).default('0.0.0.0'),
    port: z.number().int().min(0).max(65535).default(6001),
    logLevel: z.enum(logLevels).default('info'),
    /** Connections on this node across all apps; 0 = unlimited. Over it: close 4100. */
    maxConnections: z.number().int().min(0).default(0),
    /** Largest WebSocket message a client may send, in bytes. Over it: close 1009. */
    maxFrameBytes: z.number().int().min(256).max(16 * 1024 * 1024).default(64 * 1024),
    /** Seconds of client silence before the server pings; also sent to clients as activity_timeout. */
    activityTimeout: z.number().int().min(1).max(3600).default(120),
    /** Seconds to wait for any frame after a server ping before closing with 4201. */
    pongTimeout: z.number().int().min(1).max(600).default(30),
    /** Seconds without any subscribe/event/signin from a client before closing with 4202; 0 = off. */
    inactivityTimeout: z.number().int().min(0).default(0),
    /** Unsent bytes a socket may hold before it is closed with 4200 (slow consumer). */
    maxSendBufferBytes: z.number().int().min(1024).default(4 * 1024 * 1024),
    /**
     * Milliseconds queued frames may wait for more frames to the same sockets so
     * that they leave in one write, while the node delivers at least
     * `writeCoalesceMinRate` per second; 0 = always write at the end of the
     * event-loop turn. Trades a few ms of latency under heavy fan-out for
     * about a third less CPU per delivery.
     */
    writeCoalesceMs: z.number().int().min(0).max(100).default(15),
    /**
     * Deliveries per second (this node, over the last second) from which frames
     * wait `writeCoalesceMs`; below it they leave at the end of their turn.
     * 0 = always wait.
     */
    writeCoalesceMinRate: z.number().int().min(0).default(60_000),
    /** Largest HTTP API request body in bytes. Over it: 413. */
    maxHttpBodyBytes: z.number().int().min(1024).default(1024 * 1024),
    /** Seconds an HTTP request may take to arrive whole (headers and body); slower senders get 408. */
    httpRequestTimeout: z.number().int().min(1).max(600).default(30),
    /** Seconds over which a graceful shutdown spreads 4200 closes. */
    drainSeconds: z.number().min(0).max(600).default(5),
    /** Seconds a cache channel keeps its last event. */
    cacheTtlSeconds: z.number().int().min(1).default(1800),
    /** Cache channels per app whose last event is kept; the least recently used are dropped first. */
    maxCachedChannels: z.number().int().min(1).default(10_000),
    tlsCert: z.string().min(1).optional(),
    tlsKey: z.string().min(1).optional(),
    /** How nodes reach each other: `local` (one process, or `--workers` through the primary), `redis` or `nats`. */
    adapter: z.enum(['local', 'redis', 'nats']).default('local'),
    /** Redis URL(s), comma-separated (several = shards by channel hash): `redis://`, `rediss://`, `redis-sentinel://h:p,h:p/master`, or alone `redis-cluster://h:p,h:p` (seed nodes of a Redis Cluster; channels by sharded pub/sub, Redis ≥ 7). */
    redisUrl: z.string().min(1).optional(),
    /** NATS server URL(s) of one NATS cluster, comma-separated. */
    natsUrl: z.string().min(1).optional(),
    /** Prepended to every Redis key/channel and NATS subject, so deployments can share a broker. */
    keyPrefix: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ - only').default('switchboard'),
    /** This node's id in the cluster (stable across restarts to replace the old run); default host name and port. */
    nodeId: z.string().min(1).max(100).regex(/^[A-Za-z0-9_\-.:]+$/, 'letters, digits, _ - . : only').optional(),
    /** Seconds between a node's heartbeats. */
    heartbeatInterval: z.number().min(0.05).max(60).default(1),
    /** Seconds without heartbeats after which a node is dead: its members leave, its occupancy is dropped. */
    nodeTimeout: z.number().min(0.2).max(600).default(10),
    /** Seconds a cluster-wide query waits for the other nodes' answers. */
    requestTimeout: z.number().min(0.05).max(60).default(2),
    /** Seconds of the leader lease: a new leader takes over within about this long after the leader dies. */
    leaderLease: z.number().min(0.5).max(600).default(5),
    /**
     * Milliseconds a batch of outgoing cluster messages may wait for more,
     * while this node publishes at least `clusterCoalesceMinRate` of them per
     * second; 0 = always send at the end of the event-loop turn. Under load,
     * fewer and larger broker messages cost every node fewer wake-ups.
     */
    clusterCoalesceMs: z.number().int().min(0).max(100).default(2),
    /** Cluster messages per second (this node, over the last second) from which batches wait `clusterCoalesceMs`. 0 = always wait. */
    clusterCoalesceMinRate: z.number().int().min(0).default(1000),
    /** Where webhook batches wait for delivery: `memory` (this process; lost on restart), `redis` or `rabbitmq` (durable). */
    webhookQueue: z.enum(['memory', 'redis', 'rabbitmq']).default('memory'),
    /** The queue's broker: a `redis://` URL (default: `redisUrl`) or an `amqp://` URL. */
    webhookQueueUrl: z.string().min(1).optional(),
    /** Events per webhook request, at most. */
    webhookBatchSize: z.number().int().min(1).max(1000).default(20),
    /** Milliseconds the first event of a batch waits for more before the batch is sent. */
    webhookBatchMs: z.number().int().min(0).max(60_000).default(250),
    /** Seconds `channel_vacated` and `member_removed` wait; a return within it sends neither the leave nor the next join. */
    webhookLeaveDelay: z.number().min(0).max(600).default(3),
    /** Seconds one delivery attempt may take, answer included. */
    webhookAttemptTimeout: z.number().min(0.1).max(120).default(4),
    /** Seconds after an event's creation during which failed deliveries are retried (receivers reject a `time_ms` older than 5 minutes). */
    // At most RabbitMQ's default consumer_timeout (30 min): a longer retry loop would see its batch redelivered.
    webhookRetryFor: z.number().min(0).max(1800).default(300),
    /** Milliseconds of the first retry's backoff ceiling; each retry doubles it (full jitter: a random delay up to the ceiling). */
    webhookRetryBaseMs: z.number().int().min(1).max(600_000).default(1000),
    /** Milliseconds the backoff ceiling stops doubling at. */
    webhookRetryMaxMs: z.number().int().min(1).max(3_600_000).default(60_000),
    /** Consecutive failed attempts to one endpoint that open its circuit breaker (deliveries to it then pause). */
    webhookCircuitFailures: z.number().int().min(1).max(1000).default(5),
    /** Seconds an open circuit breaker waits before one probe attempt; a success closes it, a failure keeps it open. */
    webhookCircuitHalfOpen: z.number().min(0.05).max(3600).default(30),
    /** Batches the memory queue holds across all endpoints; beyond it new batches are dead-lettered. */
    webhookMemoryQueueMax: z.number().int().min(1).default(10_000),
    /** Bearer token for the admin endpoints (`/webhooks/failed`, `/webhooks/replay`); unset = admin endpoints off (404). */
    adminToken: z.string().min(16).optional(),
    /** Worker processes sharing the port: a number, or `auto` for one per core. */
    workers: z.string().regex(/^(auto|[1-9][0-9]{0,2})$/, 'a number from 1 or "auto"').default('1'),
    /** Convenience: a single app from flags/env, replacing `apps`. All three or none. */
    appId: z.string().min(1).optional(),
    appKey: z.string().min(1).optional(),
    appSecret: z.string().min(1).optional(),
    // Zod 4 returns a default as-is without parsing it, so the development app is run
    // through appSchema here to get its own defaults (enabled, limits); a factory gives
    // every load a fresh array, so freezing one config never freezes the schema's default.
    apps: z
      .array(appSchema)
      .min(1)
      .default(() => [appSchema.parse({ id: 'app-id', key: 'app-key', secret: 'app-secret', name: 'development' })]),
  })
  .strict()
  .superRefine((c, ctx) => {
    if ((c.tlsCert === undefined) !== (c.tlsKey === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tlsCert'], message: 'tlsCert and tlsKey go together' });
    }
    const single = [c.appId, c.appKey, c.appSecret].filter((v) => v !== undefined).length;
    if (single !== 0 && single !== 3) {
      ctx.addIssue({ code: 'custom', path: ['appId'], message: 'appId, appKey and appSecret go together' });
    }
    if (c.adapter === 'redis' && c.redisUrl === undefined) ctx.addIssue({ code: 'custom', path: ['redisUrl'], message: 'adapter redis needs redisUrl' });
    if (c.adapter === 'nats' && c.natsUrl === undefined) ctx.addIssue({ code: 'custom', path: ['natsUrl'], message: 'adapter nats needs natsUrl' });
    if (c.webhookQueue === 'redis' && c.webhookQueueUrl === undefined && c.redisUrl === undefined) {
      ctx.addIssue({ code: 'custom', path: ['webhookQueueUrl'], message: 'webhookQueue redis needs webhookQueueUrl or redisUrl' });
    }
    const queueUrl = c.webhookQueueUrl ?? c.redisUrl;
    if (c.webhookQueue === 'redis' && queueUrl !== undefined && !/^rediss?:\/\/[^,]+$/.test(queueUrl)) {
      ctx.addIssue({ code: 'custom', path: [c.webhookQueueUrl === undefined ? 'redisUrl' : 'webhookQueueUrl'], message: 'the redis webhook queue needs one redis:// or rediss:// URL (not a shard list, Sentinel or Cluster): set webhookQueueUrl' });
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
