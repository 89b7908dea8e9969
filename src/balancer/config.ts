import { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../config/errors.js';
import { describeField, parseOptionText, toFlagName, type ConfigOption } from '../config/options.js';
import { readFileLayer } from '../config/sources.js';
import { checkTlsPair, logLevels, tlsKeyField, tlsReloadField } from '../config/schema.js';

/**
 * The balancer's options: one zod schema, flags and env derived from it
 * the way the node's are (src/config/options.ts), with its own env prefix
 * so a node's environment and a balancer's never collide.
 */
const algorithms = ['p2c', 'round-robin', 'weighted-round-robin', 'least-connections', 'random', 'least-response-time', 'consistent-hash'] as const;
export type AlgorithmName = (typeof algorithms)[number];

const balancerSchema = z
  .object({
    host: z.string().min(1).default('0.0.0.0').describe('Address to listen on.'),
    listen: z.number().int().min(0).max(65535).default(8080).describe('Port the balancer listens on (0 = any free port).'),
    internalPort: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .optional()
      .describe(
        "Port (on `internalHost`) for the balancer's own `/balancer` and `/metrics`. When set, `--listen` serves only what clients and Pusher SDKs use (WebSockets on `/app/{key}`, the HTTP API under `/apps/`, `/endpoints`) and answers 404 to every other path, the nodes' `/metrics` and `/cluster` included, so it can face the internet.",
      ),
    internalHost: z.string().min(1).default('127.0.0.1').describe('Address of `internalPort`.'),
    logLevel: z.enum(logLevels).default('info').describe('pino log level.'),
    backend: z
      .array(z.string().regex(/^[^\s=]+:\d{1,5}(=\d{1,4})?$/, 'host:port or host:port=weight'))
      .default([])
      .describe('Backend nodes `host:port` or `host:port=weight` (weight 1-1000, default 1); repeat the flag for more, a JSON array in env.'),
    discover: z
      .enum(['static', 'redis'])
      .default('static')
      .describe("Where backends come from: `static` (the `backend` list) or `redis` (the cluster's node registry)."),
    redisUrl: z.string().min(1).optional().describe('Redis of the nodes, for `--discover redis`.'),
    keyPrefix: z.string().min(1).max(64).default('switchboard').describe("The nodes' `--key-prefix`, to find their heartbeats."),
    nodeTimeout: z.number().min(0.2).max(600).default(10).describe('Seconds without a heartbeat after which a discovered node is forgotten.'),
    algorithm: z.enum(algorithms).default('p2c').describe('How a backend is chosen for each new WebSocket or HTTP request (see Algorithms).'),
    hashKey: z
      .enum(['app-key', 'query', 'client-ip'])
      .default('app-key')
      .describe('What consistent hashing hashes: the app key of `/app/{key}` (HTTP API: the app id), a query parameter, or the client address.'),
    hashQueryParam: z.string().min(1).default('key').describe('Query parameter hashed with `--hash-key query`.'),
    hashBalanceFactor: z
      .number()
      .min(1.01)
      .max(10)
      .default(1.25)
      .describe('Bounded loads: no backend takes more than this factor times its share of connections (HAProxy hash-balance-factor 125).'),
    healthInterval: z.number().min(0.05).max(300).default(2).describe('Seconds between active `/ready` checks.'),
    healthFastInterval: z.number().min(0.05).max(300).default(0.5).describe("Seconds between checks while a backend is changing state (HAProxy's fastinter)."),
    healthTimeout: z.number().min(0.05).max(60).default(1).describe('Seconds one health check may take; slower counts as a bad check.'),
    healthRise: z.number().int().min(1).max(100).default(2).describe('Consecutive good checks for a backend to become healthy.'),
    healthFall: z.number().int().min(1).max(100).default(3).describe('Consecutive bad checks for a backend to become unhealthy.'),
    ejectAfterFailures: z.number().int().min(1).max(1000).default(3).describe('Consecutive connect failures or resets that eject a backend.'),
    ejectBaseSeconds: z.number().min(0.05).max(3600).default(30).describe('Seconds of the first ejection; each consecutive ejection multiplies it.'),
    ejectMaxSeconds: z.number().min(0.05).max(86_400).default(300).describe('Seconds of the longest ejection.'),
    maxEjectedPercent: z.number().min(0).max(100).default(50).describe('Most backends ejected at once, in percent (at least one may be).'),
    slowStart: z.number().min(0).max(3600).default(60).describe("Seconds over which a newly healthy backend's share ramps up; 0 = off."),
    panicThreshold: z.number().min(0).max(100).default(50).describe('Percentage of healthy backends below which traffic goes to all of them.'),
    proxyProtocol: z.boolean().default(false).describe('Send a PROXY protocol v1 line to backends.'),
    tlsCert: z
      .string()
      .min(1)
      .optional()
      .describe(
        'PEM certificate (chain) file: the balancer serves `wss://` and `https://`, terminating TLS (with `tlsKey`); the nodes behind it speak plain HTTP.',
      ),
    tlsKey: tlsKeyField,
    tlsReload: tlsReloadField,
    maxHeaderBytes: z
      .number()
      .int()
      .min(1024)
      .max(1024 * 1024)
      .default(16 * 1024)
      .describe('Largest request head a client may send, in bytes; beyond it 431.'),
    headersTimeout: z
      .number()
      .min(0.1)
      .max(300)
      .default(10)
      .describe('Seconds a client may take to send its request head (slowloris); slower gets 408 or is closed. At most requestTimeout.'),
    requestTimeout: z.number().min(0.1).max(600).default(30).describe("Seconds an HTTP request may take, body and the backend's answer included."),
    maxBodyBytes: z
      .number()
      .int()
      .min(1024)
      .default(1024 * 1024)
      .describe('Largest HTTP request body, in bytes; beyond it 413 (bodies are buffered so a failed connect can be retried).'),
    connectTimeout: z.number().min(0.05).max(60).default(3).describe('Seconds to connect to a backend before trying another.'),
    connectRetries: z.number().int().min(0).max(10).default(2).describe('Other backends tried after a failed connect, before the client gets 502.'),
    tunnelTimeout: z
      .number()
      .min(0)
      .max(86_400)
      .default(3600)
      .describe('Seconds of silence in both directions after which a WebSocket tunnel is closed; 0 = never (pusher-js pings every 120 s).'),
    httpPoolSize: z.number().int().min(1).max(10_000).default(64).describe('Keep-alive sockets per backend for HTTP API requests.'),
    maxConnectionsPerBackend: z.number().int().min(0).default(0).describe('Open WebSockets per backend; 0 = unlimited.'),
    maxConnections: z.number().int().min(0).default(0).describe('Open WebSockets through this balancer process; 0 = unlimited.'),
    queueTimeout: z.number().min(0).max(60).default(2).describe('Seconds a request waits for room under the limits before 503 (WebSockets: close 4100).'),
    maxQueued: z.number().int().min(0).default(1000).describe('Requests that may wait for room at once; beyond it they are refused at once.'),
    rebalance: z.boolean().default(true).describe('Move connections from busy nodes to idle ones when the load is uneven (needs `--admin-token`).'),
    rebalanceThreshold: z.number().min(1.01).max(10).default(1.2).describe('Max/mean connection ratio that starts rebalancing.'),
    rebalanceRate: z.number().min(0.0001).max(0.5).default(0.01).describe("Share of a node's connections closed per second at most while rebalancing."),
    adminToken: z.string().min(16).optional().describe("Bearer token of the nodes' admin endpoint (their `adminToken`); rebalancing needs it."),
    drainSeconds: z
      .number()
      .min(0)
      .max(600)
      .default(5)
      .describe(
        'On SIGTERM: seconds over which the open WebSockets are closed, evenly, once the port takes no new connections, so clients reconnect (through the other balancers) gradually; 0 = all at once.',
      ),
    workers: z
      .string()
      .regex(/^(auto|[1-9][0-9]{0,2})$/, 'a number from 1 or "auto"')
      .default('1')
      .describe('Balancer processes sharing the port: a number, or `auto` for one per core.'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.internalPort !== undefined && c.internalPort !== 0 && c.internalPort === c.listen)
      ctx.addIssue({ code: 'custom', path: ['internalPort'], message: 'not the port of --listen' });
    if (c.discover === 'static' && c.backend.length === 0)
      ctx.addIssue({ code: 'custom', path: ['backend'], message: 'at least one --backend (or --discover redis)' });
    if (c.discover === 'redis' && c.redisUrl === undefined) ctx.addIssue({ code: 'custom', path: ['redisUrl'], message: 'discover redis needs redisUrl' });
    if (c.ejectMaxSeconds < c.ejectBaseSeconds) ctx.addIssue({ code: 'custom', path: ['ejectMaxSeconds'], message: 'at least ejectBaseSeconds' });
    // node:http refuses a headers timeout longer than the whole request's.
    if (c.headersTimeout > c.requestTimeout) ctx.addIssue({ code: 'custom', path: ['headersTimeout'], message: 'at most requestTimeout' });
    checkTlsPair(c, ctx);
  });

export type BalancerConfigInput = z.input<typeof balancerSchema>;
export type BalancerConfig = Readonly<z.infer<typeof balancerSchema>>;

const BALANCER_ENV_PREFIX = 'SWITCHBOARD_BALANCER_';

/** Every balancer option with its flag and env names, derived from the schema. */
export const balancerOptions: readonly ConfigOption[] = Object.freeze(
  Object.entries(balancerSchema.shape).map(([key, field]) => {
    const option = describeField(key, field);
    return Object.freeze({ ...option, envName: BALANCER_ENV_PREFIX + key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase() });
  }),
);

/** A parsed `--backend` value. */
export interface BackendSpec {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
}

/** `host:port` for a URL or a config line: an IPv6 host in brackets (the form parseBackendSpec reads back). */
export function joinHostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function parseBackendSpec(text: string): BackendSpec {
  const [address = '', weightText] = text.split('=');
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(colon + 1));
  const weight = weightText === undefined ? 1 : Number(weightText);
  return { address, host, port, weight: Math.min(1000, Math.max(1, weight)) };
}

/**
 * Build the balancer config: defaults < file (`--config`, JSON or YAML, read
 * as the node's is) < env (SWITCHBOARD_BALANCER_*) < flags, validated once
 * and frozen; throws a ConfigError listing every problem.
 */
export function loadBalancerConfig(allFlags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): BalancerConfig {
  const { config: configPath, ...flags } = allFlags;
  const input: Record<string, unknown> = {};
  const issues: ConfigIssue[] = [];
  if (configPath !== undefined) {
    if (typeof configPath !== 'string') issues.push({ path: '--config', message: 'expected a file path' });
    else {
      const layer = readFileLayer(configPath);
      Object.assign(input, layer.values);
      issues.push(...layer.issues);
    }
  }
  const byKey = new Map(balancerOptions.map((o) => [o.key, o]));
  const byEnv = new Map(balancerOptions.map((o) => [o.envName, o]));
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith(BALANCER_ENV_PREFIX) || text === undefined) continue;
    const option = byEnv.get(name);
    if (option === undefined) {
      issues.push({ path: name, message: 'unknown environment variable: no balancer option has this name' });
      continue;
    }
    const parsed = parseOptionText(option, text);
    if (parsed.ok) input[option.key] = parsed.value;
    else issues.push({ path: option.key, message: `${parsed.reason} (from ${name})` });
  }
  for (const [key, raw] of Object.entries(flags)) {
    if (raw === undefined) continue;
    const option = byKey.get(key);
    if (option === undefined) {
      issues.push({ path: `--${toFlagName(key)}`, message: 'unknown option' });
      continue;
    }
    // Repeated flags (`--backend a --backend b`) arrive as an array already.
    const parsed = typeof raw === 'string' ? parseOptionText(option, raw) : { ok: true as const, value: raw };
    if (parsed.ok) input[key] = parsed.value;
    else issues.push({ path: key, message: `${parsed.reason} (from --${option.flag})` });
  }
  const result = balancerSchema.safeParse(input);
  if (!result.success) {
    for (const i of result.error.issues) issues.push({ path: i.path.length > 0 ? i.path.map(String).join('.') : '(root)', message: i.message });
  }
  if (issues.length > 0 || !result.success) throw new ConfigError(issues);
  return Object.freeze({ ...result.data, backend: Object.freeze([...result.data.backend]) }) as BalancerConfig;
}

/** Parse a config object directly (tests and programmatic use). */
export function balancerConfig(input: BalancerConfigInput): BalancerConfig {
  return Object.freeze(balancerSchema.parse(input));
}
