import { createHmac } from 'node:crypto';
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

/** The pusher-js options a user points at a node (plain ws, no stats). */
export function pusherJsOptions(node: RunningNode) {
  return { wsHost: '127.0.0.1', wsPort: node.port, forceTLS: false, enabledTransports: ['ws' as const], cluster: 'mt1', disableStats: true };
}

/** A real pusher-js client (Node build) connected to a node. */
export function pusherClient(node: RunningNode, options: Partial<PusherJsOptions> = {}, key: string = DEV_APP.key): PusherJs {
  return new PusherJsClass(key, { ...pusherJsOptions(node), ...options } as PusherJsOptions);
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

  static async connect(
    node: RunningNode,
    path = `/app/${DEV_APP.key}?protocol=7&client=js&version=8.4.0`,
    headers: Record<string, string> = {},
  ): Promise<RawClient> {
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
  async next(
    predicate: (m: { event: string; channel?: string; data?: unknown }) => boolean,
    ms = 3000,
    from = 0,
  ): Promise<{ event: string; channel?: string; data?: unknown }> {
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

// ---- authorisation through the real pusher SDK ------------------------------------------------

/** Who a presence subscription joins as. */
export interface PresenceIdentity {
  user_id: string;
  user_info?: Record<string, unknown>;
}

/** A signed-in user as `sdk.authenticateUser` takes it. */
export interface SigninIdentity {
  id: string;
  user_info?: Record<string, unknown>;
  watchlist?: string[];
}

/**
 * pusher-js `channelAuthorization` that asks the real server SDK, as an app's auth endpoint would.
 * `presence` names the user for presence channels (default: one user per socket).
 */
function sdkChannelAuthorization(sdk: Pusher, presence?: PresenceIdentity): Partial<PusherJsOptions> {
  return {
    channelAuthorization: {
      customHandler: ({ socketId, channelName }, callback) => {
        try {
          const presenceData = channelName.startsWith('presence-') ? (presence ?? { user_id: `anon-${socketId}` }) : undefined;
          callback(null, sdk.authorizeChannel(socketId, channelName, presenceData));
        } catch (err) {
          callback(err as Error, null);
        }
      },
    },
  } as Partial<PusherJsOptions>;
}

/** pusher-js `userAuthentication` that asks the real server SDK to sign `user`. */
export function sdkUserAuthentication(sdk: Pusher, user: SigninIdentity): Partial<PusherJsOptions> {
  return {
    userAuthentication: {
      customHandler: ({ socketId }, callback) => {
        try {
          callback(null, sdk.authenticateUser(socketId, user));
        } catch (err) {
          callback(err as Error, null);
        }
      },
    },
  } as Partial<PusherJsOptions>;
}

// ---- waiting on pusher-js -----------------------------------------------------------------------

interface Bindable {
  bind(event: string, callback: (data: unknown) => void): unknown;
  unbind(event?: string, callback?: (data: unknown) => void): unknown;
}

/** The next emission of `event` on a pusher-js channel, connection or user object. */
export function nextEmit(target: Bindable, event: string, ms = 3000): Promise<unknown> {
  let listener: (data: unknown) => void = () => undefined;
  const emitted = new Promise<unknown>((resolve) => {
    listener = (data) => resolve(data);
    target.bind(event, listener);
  });
  return withTimeout(emitted, ms, `no ${event} within ${ms} ms`).finally(() => target.unbind(event, listener));
}

/** Every emission of `event` on `target`, in arrival order. */
export function record(target: Bindable, event: string): unknown[] {
  const seen: unknown[] = [];
  target.bind(event, (data: unknown) => seen.push(data));
  return seen;
}

/** Poll `predicate` (bounded in time) until it holds. */
export async function until(predicate: () => boolean, ms = 3000, message = 'condition not met'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`${message} within ${ms} ms`);
    await sleep(10);
  }
}

// ---- raw-client conveniences --------------------------------------------------------------------

/** A `pusher:subscribe` frame, signed for private, encrypted and presence channels like an auth endpoint would. */
export function signedSubscribe(
  socketId: string,
  channel: string,
  options: { presence?: PresenceIdentity; app?: { key: string; secret: string } } = {},
): { event: string; data: { channel: string; auth?: string; channel_data?: string } } {
  const app = options.app ?? DEV_APP;
  if (!channel.startsWith('private-') && !channel.startsWith('presence-')) return { event: 'pusher:subscribe', data: { channel } };
  const channelData = channel.startsWith('presence-') ? JSON.stringify(options.presence ?? { user_id: socketId }) : undefined;
  const message = channelData === undefined ? `${socketId}:${channel}` : `${socketId}:${channel}:${channelData}`;
  const auth = `${app.key}:${createHmac('sha256', app.secret).update(message).digest('hex')}`;
  return { event: 'pusher:subscribe', data: channelData === undefined ? { channel, auth } : { channel, auth, channel_data: channelData } };
}

/** Subscribe a raw client (signing as needed) and wait for the server's answer. */
export async function rawSubscribe(client: RawClient, channel: string, presence?: PresenceIdentity): Promise<void> {
  await client.event('pusher:connection_established');
  const from = client.messages.length;
  client.send(signedSubscribe(client.socketId, channel, presence ? { presence } : {}));
  const answer = await client.next(
    (m) => m.channel === channel && (m.event === 'pusher_internal:subscription_succeeded' || m.event === 'pusher:subscription_error'),
    3000,
    from,
  );
  if (answer.event !== 'pusher_internal:subscription_succeeded') throw new Error(`subscription to ${channel} refused: ${JSON.stringify(answer.data)}`);
}

// ---- cleanup -----------------------------------------------------------------------------------

/**
 * Everything one test opened: nodes, pusher-js clients and raw sockets, closed together
 * in `dispose()` so that no test leaks a handle into the next.
 */
export class TestResources {
  private readonly nodes: RunningNode[] = [];
  private readonly pushers: PusherJs[] = [];
  private readonly raws: RawClient[] = [];
  private readonly sockets: Array<{ destroy(): void }> = [];

  async node(overrides: Partial<ConfigInput> = {}): Promise<RunningNode> {
    const node = await startTestNode(overrides);
    this.nodes.push(node);
    return node;
  }

  pusher(node: RunningNode, options: Partial<PusherJsOptions> = {}, key?: string): PusherJs {
    const client = pusherClient(node, options, key);
    this.pushers.push(client);
    return client;
  }

  async raw(node: RunningNode, path?: string, headers?: Record<string, string>): Promise<RawClient> {
    const client = await RawClient.connect(node, path, headers);
    this.raws.push(client);
    return client;
  }

  /** A connected pusher-js client whose auth endpoint is the real SDK; `presence` names it on presence channels. */
  async authedPusher(node: RunningNode, sdk: Pusher, presence?: PresenceIdentity): Promise<PusherJs> {
    const client = this.pusher(node, sdkChannelAuthorization(sdk, presence));
    await connected(client);
    return client;
  }

  /** Track any other socket-like handle (e.g. a raw `net.Socket`). */
  adopt<T extends { destroy(): void }>(socket: T): T {
    this.sockets.push(socket);
    return socket;
  }

  async dispose(): Promise<void> {
    for (const client of this.pushers.splice(0)) client.disconnect();
    for (const client of this.raws.splice(0)) client.ws.terminate();
    for (const socket of this.sockets.splice(0)) socket.destroy();
    await Promise.all(this.nodes.splice(0).map((node) => node.stop({ drainSeconds: 0 })));
  }
}

/** Subscribe a pusher-js client and wait for `pusher:subscription_succeeded` (rejects on a subscription error). */
export async function subscribed(client: PusherJs, channelName: string, ms = 3000): Promise<ReturnType<PusherJs['subscribe']>> {
  const channel = client.subscribe(channelName);
  if (channel.subscribed) return channel;
  let onSuccess: () => void = () => undefined;
  let onError: (data: unknown) => void = () => undefined;
  const answered = new Promise<void>((resolve, reject) => {
    onSuccess = () => resolve();
    onError = (data) => reject(new Error(`subscription to ${channelName} refused: ${JSON.stringify(data)}`));
    channel.bind('pusher:subscription_succeeded', onSuccess);
    channel.bind('pusher:subscription_error', onError);
  });
  try {
    await withTimeout(answered, ms, `no answer to the subscription to ${channelName}`);
  } finally {
    channel.unbind('pusher:subscription_succeeded', onSuccess);
    channel.unbind('pusher:subscription_error', onError);
  }
  return channel;
}

// ---- a client that must not notice abuse ------------------------------------------------------

/**
 * A well-behaved pusher-js client on the same node as an abusive one, and the publisher that
 * feeds it a numbered sequence. Bad input "never corrupts another client's state": this is the
 * other client, and `assertIntact` checks it got every event, once, in order.
 */
export class Bystander {
  readonly received: number[] = [];
  private published = 0;

  private constructor(
    readonly client: PusherJs,
    private readonly sdk: Pusher,
    private readonly channel: string,
  ) {}

  static async join(node: RunningNode, sdk: Pusher, channel = 'bystander'): Promise<Bystander> {
    const client = pusherClient(node);
    const bystander = new Bystander(client, sdk, channel);
    const subscription = await subscribed(client, channel);
    subscription.bind('seq', (event: { n: number }) => bystander.received.push(event.n));
    return bystander;
  }

  /** Publish the next `count` numbers of the sequence, one HTTP request after another. */
  async publish(count: number): Promise<void> {
    for (let i = 0; i < count; i++) await this.sdk.trigger(this.channel, 'seq', { n: this.published++ });
  }

  /** Resolve once everything published so far has arrived; throw if anything is missing, repeated or out of order. */
  async assertIntact(ms = 5000): Promise<void> {
    await until(() => this.received.length >= this.published, ms, `bystander got ${this.received.length}/${this.published} events`);
    const expected = Array.from({ length: this.published }, (_, n) => n);
    if (JSON.stringify(this.received) !== JSON.stringify(expected)) {
      throw new Error(`bystander sequence corrupted: ${JSON.stringify(this.received.slice(0, 50))}…`);
    }
    if (this.client.connection.state !== 'connected') throw new Error(`bystander is ${this.client.connection.state}`);
  }

  disconnect(): void {
    this.client.disconnect();
  }
}
