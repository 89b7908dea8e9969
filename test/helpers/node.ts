import { once } from 'node:events';
import Pusher from 'pusher';
import PusherJsModule from 'pusher-js';
import type * as PusherTypes from 'pusher-js/types/src/core/pusher.js';
import type { Options as PusherJsOptions } from 'pusher-js/types/src/core/options.js';
import WebSocket from 'ws';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { startNode, type RunningNode } from '../../src/node.js';
import { createLogger } from '../../src/util/logger.js';

export const DEV_APP = { id: 'app-id', key: 'app-key', secret: 'app-secret' } as const;

/** Start a real node on a free loopback port. */
export async function startTestNode(overrides: Partial<ConfigInput> = {}): Promise<RunningNode> {
  const config = configSchema.parse({ host: '127.0.0.1', port: 0, logLevel: 'silent', ...overrides });
  return startNode(Object.freeze(config), createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'));
}

/** The pusher Node SDK pointed at a node. */
export function serverSdk(node: RunningNode, app: { id: string; key: string; secret: string } = DEV_APP): Pusher {
  return new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(node.port), useTLS: false });
}

// Under NodeNext, pusher-js's typings read as CommonJS: the default import is the class at run time.
const PusherJsClass = PusherJsModule as unknown as new (key: string, options: PusherJsOptions) => PusherJs;
export type PusherJs = PusherTypes.default;

/** A real pusher-js client (Node build) connected to a node. */
export function pusherClient(node: RunningNode, options: Partial<PusherJsOptions> = {}, key: string = DEV_APP.key): PusherJs {
  return new PusherJsClass(key, {
    wsHost: '127.0.0.1',
    wsPort: node.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    cluster: 'mt1',
    disableStats: true,
    ...options,
  } as PusherJsOptions);
}

/** Resolve when a pusher-js client is connected (rejects after `ms`). */
export async function connected(client: PusherJs, ms = 5000): Promise<string> {
  if (client.connection.state === 'connected') return client.connection.socket_id;
  return withTimeout(
    new Promise<string>((resolve) => client.connection.bind('connected', () => resolve(client.connection.socket_id))),
    ms,
    'pusher-js did not connect',
  );
}

/** A raw WebSocket client that records every decoded message, for what pusher-js will not send. */
export class RawClient {
  readonly messages: Array<{ event: string; channel?: string; data?: unknown }> = [];
  closeCode: number | undefined;
  private waiters: Array<() => void> = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      try {
        this.messages.push(JSON.parse(String(data)));
      } catch {
        this.messages.push({ event: '<unparseable>', data: String(data) });
      }
      this.wake();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      this.wake();
    });
  }

  static async connect(node: RunningNode, path = `/app/${DEV_APP.key}?protocol=7&client=js&version=8.4.0`, headers: Record<string, string> = {}): Promise<RawClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}${path}`, { headers });
    const client = new RawClient(ws);
    await once(ws, 'open');
    return client;
  }

  get socketId(): string {
    const established = this.messages.find((m) => m.event === 'pusher:connection_established');
    if (!established) throw new Error('not established');
    return JSON.parse(established.data as string).socket_id;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Wait for the first message (from index `from`) matching `predicate`. */
  async next(predicate: (m: { event: string; channel?: string; data?: unknown }) => boolean, ms = 3000, from = 0): Promise<{ event: string; channel?: string; data?: unknown }> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.messages.slice(from).find(predicate);
      if (found) return found;
      if (this.closeCode !== undefined) throw new Error(`socket closed (${this.closeCode}) while waiting`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; got: ${JSON.stringify(this.messages.map((m) => m.event))}`);
      await withTimeout(new Promise<void>((resolve) => this.waiters.push(resolve)), left, '').catch(() => undefined);
    }
  }

  event(name: string, ms?: number) {
    return this.next((m) => m.event === name, ms);
  }

  async closed(ms = 5000): Promise<number> {
    if (this.closeCode !== undefined) return this.closeCode;
    const [code] = (await withTimeout(once(this.ws, 'close'), ms, 'socket did not close')) as [number];
    return code;
  }

  close(): void {
    this.ws.close();
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
