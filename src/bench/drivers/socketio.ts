import type { Socket } from 'socket.io-client';
import { importOptional, requireInstalled } from '../optional-packages.js';
import {
  ConnectError,
  withDeadline,
  type BenchClient,
  type ClientHandlers,
  type Driver,
  type Publisher,
  type SubscribeOptions,
  type TargetSpec,
} from './types.js';

/**
 * The Socket.IO protocol of `bench/reference/socketio.mjs`, with the official client over the
 * WebSocket transport only: `sub` (acked) joins a room, `pub` emits `msg` to the room, `client`
 * emits `msg` to the room except the sender.
 */
class SocketIoClient implements BenchClient {
  constructor(
    private readonly socket: Socket,
    handlers: ClientHandlers,
  ) {
    socket.on('msg', (_channel: string, data: string) => {
      handlers.onFrame(data);
    });
    socket.on('disconnect', (reason) => {
      if (reason !== 'io client disconnect') handlers.onClose(reason.replace(/ /g, '_'));
    });
  }

  subscribe(channel: string, options: SubscribeOptions): Promise<void> {
    const acked = new Promise<void>((resolve) => this.socket.emit('sub', channel, () => resolve()));
    return withDeadline(acked, options.timeoutMs, 'subscribe_timeout', `no ack for sub ${channel}`);
  }

  sendClientEvent(channel: string, payload: string): void {
    this.socket.emit('client', channel, payload);
  }

  close(): void {
    this.socket.disconnect();
  }
}

function socketIoUrl(target: TargetSpec): string {
  return target.url.replace(/^ws(s?):/, 'http$1:');
}

// Imported on first use: socket.io-client is an optional package that most installs leave out.
type SocketIoClientModule = typeof import('socket.io-client');
let clientModule: Promise<SocketIoClientModule> | undefined;

async function openSocketIo(target: TargetSpec, timeoutMs: number): Promise<Socket> {
  const { io } = await (clientModule ??= importOptional<SocketIoClientModule>('the socketio driver', 'socket.io-client'));
  const socket = io(socketIoUrl(target), { transports: ['websocket'], reconnection: false, forceNew: true, timeout: timeoutMs });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err: Error) => {
      socket.close();
      const cause = (err as { description?: { error?: { code?: unknown } } }).description?.error?.code;
      reject(new ConnectError(typeof cause === 'string' ? cause : 'connect_error', `cannot connect to ${socketIoUrl(target)}: ${err.message}`));
    });
  });
}

// One socket: its emits arrive in the order they were made.
class SocketIoPublisher implements Publisher {
  readonly connections = 1;
  constructor(private readonly socket: Socket) {}

  nextConnection(): number {
    return 0;
  }

  async publish(channel: string, payload: string): Promise<void> {
    this.socket.emit('pub', channel, payload);
  }

  async close(): Promise<void> {
    this.socket.disconnect();
  }
}

/** Socket.IO 4 (WebSocket transport). Throws a usage error naming socket.io-client when it is not installed. */
export function createSocketIoDriver(target: TargetSpec): Driver {
  // Checked here, before any client connects, so a missing package is one clear error and not a
  // connect failure per client.
  requireInstalled('the socketio driver', ['socket.io-client']);
  return {
    name: 'socketio',
    presence: false,
    channelName: (_kind, name) => name,
    async connect(handlers, options) {
      return new SocketIoClient(await openSocketIo(target, options.timeoutMs), handlers);
    },
    async createPublisher() {
      return new SocketIoPublisher(await openSocketIo(target, 10_000));
    },
  };
}
