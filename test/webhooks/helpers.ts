import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Pusher from 'pusher';
import { configSchema, type Config, type ConfigInput } from '../../src/config/schema.js';
import { createLogger } from '../../src/util/logger.js';
import { createWebhooks, type Webhooks } from '../../src/webhooks/index.js';
import type { WebhookEvent } from '../../src/webhooks/types.js';

export const APP = { id: 'hooks-app', key: 'hooks-key', secret: 'hooks-secret-0123' } as const;
export const OTHER_APP = { id: 'other-app', key: 'other-key', secret: 'other-secret-4567' } as const;

/** One request as the receiver got it. */
export interface Received {
  readonly path: string;
  readonly method: string;
  /** Lower-case names, as node:http gives them (and as the pusher SDK expects). */
  readonly headers: IncomingHttpHeaders;
  /** Names as sent, for checking that no header came twice. */
  readonly rawHeaders: readonly string[];
  readonly rawBody: string;
  readonly body: { time_ms: number; events: WebhookEvent[] };
  readonly at: number;
}

type Handler = (req: IncomingMessage, res: ServerResponse, received: Received, index: number) => void;

/** A real HTTP receiver on a free loopback port; `handler` decides each answer (default 200 `{}`). */
export class Receiver {
  readonly requests: Received[] = [];
  handler: Handler = (_req, res) => void res.end('{}');
  private waiters: Array<() => void> = [];
  private readonly sockets = new Set<import('node:net').Socket>();

  private constructor(private readonly server: Server) {
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const rawBody = Buffer.concat(chunks).toString('utf8');
        let body: Received['body'];
        try {
          body = JSON.parse(rawBody) as Received['body'];
        } catch {
          body = { time_ms: Number.NaN, events: [] };
        }
        const received: Received = {
          path: req.url ?? '',
          method: req.method ?? '',
          headers: req.headers,
          rawHeaders: req.rawHeaders,
          rawBody,
          body,
          at: Date.now(),
        };
        const index = this.requests.length;
        this.requests.push(received);
        for (const wake of this.waiters.splice(0)) wake();
        this.handler(req, res, received, index);
      });
    });
  }

  static async start(): Promise<Receiver> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new Receiver(server);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Requests to `path` (all when omitted). */
  at(path?: string): Received[] {
    return path === undefined ? this.requests : this.requests.filter((r) => r.path === path);
  }

  /** Wait until `count` requests (to `path`, if given) have arrived. */
  async waitFor(count: number, path?: string, ms = 10_000): Promise<Received[]> {
    const deadline = Date.now() + ms;
    while (this.at(path).length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`receiver got ${this.at(path).length} of ${count} requests${path === undefined ? '' : ` to ${path}`}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.at(path);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.server.close();
    await once(this.server, 'close').catch(() => undefined);
  }
}

/** The pusher SDK's own check of a webhook request: key, signature and Content-Type. */
export function validBySdk(received: Received, app: { id: string; key: string; secret: string } = APP): boolean {
  // Only the credentials matter to webhook(); the SDK's typings also ask for a host it would never use here.
  const sdk = new Pusher({ appId: app.id, key: app.key, secret: app.secret } as Pusher.Options);
  return sdk.webhook({ headers: received.headers as Record<string, string>, rawBody: received.rawBody }).isValid();
}

/** A frozen config with short webhook timings; `apps` replace the default app list. */
export function webhookConfig(overrides: Partial<ConfigInput> = {}): Config {
  return Object.freeze(
    configSchema.parse({
      host: '127.0.0.1',
      port: 0,
      logLevel: 'silent',
      webhookBatchMs: 30,
      webhookAttemptTimeout: 1,
      webhookRetryFor: 10,
      webhookRetryBaseMs: 20,
      webhookRetryMaxMs: 100,
      webhookCircuitFailures: 50,
      webhookCircuitHalfOpen: 0.3,
      ...overrides,
    }),
  );
}

/** An app entry with the given webhook endpoints. */
export function appWith(
  webhooks: unknown[],
  app: { id: string; key: string; secret: string } = APP,
): { id: string; key: string; secret: string; webhooks: unknown[] } {
  return { ...app, webhooks };
}

export const testLogger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

/** Pipelines started by a test, stopped after it. */
export class Pipelines {
  private readonly started: Webhooks[] = [];
  private readonly receivers: Receiver[] = [];

  async start(config: Config): Promise<Webhooks> {
    const webhooks = createWebhooks(config, testLogger);
    await webhooks.start();
    this.started.push(webhooks);
    return webhooks;
  }

  async receiver(): Promise<Receiver> {
    const r = await Receiver.start();
    this.receivers.push(r);
    return r;
  }

  async dispose(): Promise<void> {
    for (const w of this.started.splice(0)) await w.stop();
    for (const r of this.receivers.splice(0)) await r.close();
  }
}

/** Poll `check` until it returns a value other than undefined/false. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, ms = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function occupied(channel: string): WebhookEvent {
  return { name: 'channel_occupied', channel };
}
