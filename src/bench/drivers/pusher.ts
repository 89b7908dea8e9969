import http from 'node:http';
import https from 'node:https';
import WebSocket from 'ws';
import { signApiRequest, signChannelAuth } from '../../protocol/signatures.js';
import {
  ConnectError,
  errorCode,
  httpBaseOf,
  withDeadline,
  type BenchClient,
  type ClientHandlers,
  type ConnectOptions,
  type Driver,
  type Publisher,
  type SubscribeOptions,
  type TargetSpec,
} from './types.js';

/** The event name of every benchmark publish. */
const BENCH_EVENT = 'bench';
const CLIENT_EVENT = 'client-bench';

interface PendingSubscription {
  resolve(): void;
  reject(err: Error): void;
}

interface ControlFrame {
  event?: unknown;
  channel?: unknown;
  data?: unknown;
}

/** A Pusher protocol v7 client on a bare `ws` socket: only what the scenarios need. */
class PusherClient implements BenchClient {
  private readonly pending = new Map<string, PendingSubscription>();
  private established: ((socketId: string) => void) | undefined;
  socketId = '';

  constructor(
    private readonly ws: WebSocket,
    private readonly handlers: ClientHandlers,
    private readonly target: TargetSpec,
  ) {
    ws.on('message', this.onMessage);
  }

  waitEstablished(): Promise<string> {
    if (this.socketId !== '') return Promise.resolve(this.socketId);
    return new Promise((resolve) => {
      this.established = resolve;
    });
  }

  // Bound once per client: the hot path tries the marker first and parses JSON only for control frames.
  private readonly onMessage = (data: Buffer): void => {
    if (this.handlers.onFrame(data)) return;
    let frame: ControlFrame;
    try {
      frame = JSON.parse(data.toString('utf8')) as ControlFrame;
    } catch {
      return;
    }
    const event = typeof frame.event === 'string' ? frame.event : '';
    const channel = typeof frame.channel === 'string' ? frame.channel : undefined;
    switch (event) {
      case 'pusher:connection_established': {
        const payload = typeof frame.data === 'string' ? (JSON.parse(frame.data) as { socket_id?: unknown }) : {};
        this.socketId = typeof payload.socket_id === 'string' ? payload.socket_id : '';
        this.established?.(this.socketId);
        return;
      }
      case 'pusher:ping':
        this.ws.send('{"event":"pusher:pong","data":{}}');
        return;
      case 'pusher_internal:subscription_succeeded':
        if (channel !== undefined) this.settle(channel, undefined);
        return;
      case 'pusher:subscription_error':
      case 'pusher:error':
        if (channel !== undefined)
          this.settle(channel, new ConnectError(`subscription_error`, `subscription to ${channel} refused: ${JSON.stringify(frame.data)}`));
        else for (const name of [...this.pending.keys()]) this.settle(name, new ConnectError('pusher_error', `pusher:error ${JSON.stringify(frame.data)}`));
        return;
      default:
        this.handlers.onEvent?.(event, channel);
    }
  };

  private settle(channel: string, err: Error | undefined): void {
    const waiter = this.pending.get(channel);
    if (waiter === undefined) return;
    this.pending.delete(channel);
    if (err === undefined) waiter.resolve();
    else waiter.reject(err);
  }

  subscribe(channel: string, options: SubscribeOptions): Promise<void> {
    const data: Record<string, string> = { channel };
    if (channel.startsWith('presence-')) {
      const channelData = JSON.stringify({ user_id: options.userId ?? this.socketId, user_info: {} });
      data.channel_data = channelData;
      data.auth = signChannelAuth(this.target, this.socketId, channel, channelData);
    } else if (channel.startsWith('private-')) {
      data.auth = signChannelAuth(this.target, this.socketId, channel);
    }
    const acked = new Promise<void>((resolve, reject) => this.pending.set(channel, { resolve, reject }));
    this.ws.send(JSON.stringify({ event: 'pusher:subscribe', data }));
    return withDeadline(acked, options.timeoutMs, 'subscribe_timeout', `no subscription_succeeded for ${channel}`).finally(() => this.pending.delete(channel));
  }

  sendClientEvent(channel: string, payload: string): void {
    this.ws.send(`{"event":"${CLIENT_EVENT}","channel":"${channel}","data":"${payload}"}`);
  }

  close(): void {
    this.ws.removeAllListeners('close');
    this.ws.close(1000);
  }
}

/**
 * Open a `ws` socket and settle once it is open or failed; the caller watches later closes.
 * `attach` runs before any frame can arrive: a server's first frame may come in the same read as
 * the upgrade response, and `ws` emits it before a promise continuation could add a listener.
 */
export function openSocket(url: string, options: ConnectOptions, attach?: (ws: WebSocket) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      handshakeTimeout: options.timeoutMs,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    attach?.(ws);
    let opened = false;
    ws.on('error', (err) => {
      if (!opened) reject(new ConnectError(errorCode(err), `cannot connect to ${url}: ${err.message}`));
    });
    ws.on('unexpected-response', (_req, res) => {
      reject(new ConnectError(`http_${res.statusCode}`, `${url} answered HTTP ${res.statusCode} instead of a WebSocket upgrade`));
      ws.terminate();
    });
    ws.once('close', (code) => {
      if (!opened) reject(new ConnectError(String(code), `${url} closed the connection during the handshake (code ${code})`));
    });
    ws.on('open', () => {
      opened = true;
      resolve(ws);
    });
  });
}

/**
 * HTTP API publisher: signed `POST /apps/{id}/events` over `maxSockets` keep-alive connections.
 * Each connection is its own agent with one socket, so its requests go one after another, in the
 * order they were made (the agent queues them first in, first out). That gives every connection
 * an order the server really receives, which the bench checks; one shared pool would hand queued
 * requests to whichever socket frees first, and publishes overlapping on several sockets would
 * reach the server in an order nobody chose.
 */
class PusherHttpPublisher implements Publisher {
  private readonly agents: http.Agent[];
  // Requests made on each connection and not yet answered.
  private readonly pending: number[];
  private rotate = 0;
  private readonly base: URL;
  private readonly path: string;
  private readonly request: typeof http.request;

  constructor(
    private readonly target: TargetSpec,
    readonly connections: number,
  ) {
    this.base = new URL(httpBaseOf(target));
    const tls = this.base.protocol === 'https:';
    this.request = tls ? https.request : http.request;
    this.agents = Array.from({ length: connections }, () =>
      tls ? new https.Agent({ keepAlive: true, maxSockets: 1 }) : new http.Agent({ keepAlive: true, maxSockets: 1 }),
    );
    this.pending = new Array<number>(connections).fill(0);
    this.path = `/apps/${target.appId}/events`;
  }

  // The least busy connection, as a shared pool would pick a free socket; ties rotate.
  nextConnection(): number {
    const n = this.connections;
    let best = this.rotate;
    for (let i = 1; i < n && (this.pending[best] ?? 0) > 0; i++) {
      const candidate = (this.rotate + i) % n;
      if ((this.pending[candidate] ?? 0) < (this.pending[best] ?? 0)) best = candidate;
    }
    this.rotate = (best + 1) % n;
    return best;
  }

  publish(channel: string, payload: string, connection: number): Promise<void> {
    const agent = this.agents[connection];
    if (agent === undefined) return Promise.reject(new ConnectError('internal', `no publisher connection ${connection}`));
    const body = `{"name":"${BENCH_EVENT}","channels":["${channel}"],"data":"${payload}"}`;
    const query = signApiRequest('POST', this.path, {}, body, this.target, Date.now() / 1000);
    this.pending[connection] = (this.pending[connection] ?? 0) + 1;
    return new Promise<void>((resolve, reject) => {
      const req = this.request(
        {
          host: this.base.hostname,
          port: this.base.port,
          method: 'POST',
          path: `${this.path}?${query.toString()}`,
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          timeout: 10_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve();
            else reject(new ConnectError(`http_${status}`, `publish answered ${status}: ${Buffer.concat(chunks).toString('utf8').slice(0, 200)}`));
          });
        },
      );
      req.on('timeout', () => req.destroy(new ConnectError('publish_timeout', 'publish took over 10 s')));
      req.on('error', (err) => reject(err instanceof ConnectError ? err : new ConnectError(errorCode(err), `publish failed: ${err.message}`)));
      req.end(body);
    }).finally(() => {
      this.pending[connection] = (this.pending[connection] ?? 1) - 1;
    });
  }

  async close(): Promise<void> {
    for (const agent of this.agents) agent.destroy();
  }
}

/** The Pusher Channels protocol v7 and its HTTP API. */
export function createPusherDriver(target: TargetSpec, options: { maxSockets?: number } = {}): Driver {
  const wsUrl = `${target.url.replace(/\/+$/, '')}/app/${encodeURIComponent(target.key)}?protocol=7&client=switchboard-bench&version=0.1.0&flash=false`;
  return {
    name: 'pusher',
    presence: true,
    channelName: (kind, name) => (kind === 'public' ? name : `${kind}-${name}`),
    async connect(handlers, connectOptions) {
      let client: PusherClient | undefined;
      const ws = await openSocket(wsUrl, connectOptions, (socket) => {
        client = new PusherClient(socket, handlers, target);
      });
      if (client === undefined) throw new ConnectError('internal', 'client not attached');
      // A refusal (unknown app key, over capacity) arrives as a close before connection_established.
      const closedFirst = new Promise<never>((_, reject) =>
        ws.once('close', (code) =>
          reject(new ConnectError(String(code), `the server closed the connection before pusher:connection_established (code ${code})`)),
        ),
      );
      try {
        await withDeadline(
          Promise.race([(client as PusherClient).waitEstablished(), closedFirst]),
          connectOptions.timeoutMs,
          'connect_timeout',
          'no pusher:connection_established',
        );
      } catch (err) {
        ws.terminate();
        throw err;
      }
      closedFirst.catch(() => undefined);
      ws.removeAllListeners('close');
      ws.on('close', (code) => handlers.onClose(String(code)));
      return client;
    },
    async createPublisher() {
      return new PusherHttpPublisher(target, options.maxSockets ?? 16);
    },
  };
}
