import type WebSocket from 'ws';
import { openSocket } from './pusher.js';
import { withDeadline, type BenchClient, type ClientHandlers, type Driver, type Publisher, type SubscribeOptions, type TargetSpec } from './types.js';

/**
 * The minimal broadcast protocol of `bench/reference/ws-raw.mjs`:
 * `{"op":"sub","ch":c}` → `{"op":"subscribed","ch":c}`; `{"op":"pub","ch":c,"data":d}` → every member gets
 * `{"ch":c,"data":d}`; `{"op":"client",...}` → every member but the sender.
 */
class RawClient implements BenchClient {
  private readonly pending = new Map<string, () => void>();

  constructor(
    private readonly ws: WebSocket,
    private readonly handlers: ClientHandlers,
  ) {
    ws.on('message', this.onMessage);
  }

  private readonly onMessage = (data: Buffer): void => {
    if (this.handlers.onFrame(data)) return;
    try {
      const frame = JSON.parse(data.toString('utf8')) as { op?: unknown; ch?: unknown };
      if (frame.op === 'subscribed' && typeof frame.ch === 'string') {
        this.pending.get(frame.ch)?.();
        this.pending.delete(frame.ch);
      }
    } catch {
      // Not ours: the reference server only sends JSON.
    }
  };

  subscribe(channel: string, options: SubscribeOptions): Promise<void> {
    const acked = new Promise<void>((resolve) => this.pending.set(channel, resolve));
    this.ws.send(JSON.stringify({ op: 'sub', ch: channel }));
    return withDeadline(acked, options.timeoutMs, 'subscribe_timeout', `no subscribed ack for ${channel}`);
  }

  sendClientEvent(channel: string, payload: string): void {
    this.ws.send(`{"op":"client","ch":"${channel}","data":"${payload}"}`);
  }

  close(): void {
    this.ws.removeAllListeners('close');
    this.ws.close(1000);
  }
}

// One WebSocket: its frames arrive in the order they were sent.
class RawPublisher implements Publisher {
  readonly connections = 1;
  constructor(private readonly ws: WebSocket) {}

  nextConnection(): number {
    return 0;
  }

  // The protocol has no publish ack: a publish is done once it is handed to the socket.
  publish(channel: string, payload: string): Promise<void> {
    return new Promise((resolve, reject) => this.ws.send(`{"op":"pub","ch":"${channel}","data":"${payload}"}`, (err) => (err ? reject(err) : resolve())));
  }

  async close(): Promise<void> {
    this.ws.close(1000);
  }
}

/** The bare `ws` broadcast protocol of the reference server. */
export function createWsRawDriver(target: TargetSpec): Driver {
  return {
    name: 'ws-raw',
    presence: false,
    channelName: (_kind, name) => name,
    async connect(handlers, options) {
      let client: RawClient | undefined;
      const ws = await openSocket(target.url, options, (socket) => {
        client = new RawClient(socket, handlers);
      });
      ws.on('close', (code) => handlers.onClose(String(code)));
      return client as RawClient;
    },
    async createPublisher() {
      return new RawPublisher(await openSocket(target.url, { timeoutMs: 10_000 }));
    },
  };
}
