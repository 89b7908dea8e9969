import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, Socket, type Server } from 'node:net';
import { join } from 'node:path';
import Pusher from 'pusher';
import { SwitchboardClient } from '../../packages/client/src/index.js';
import type { Channel, SwitchboardOptions } from '../../packages/client/src/index.js';
import { NodeProcess } from '../cluster/node-process.js';
import { DEV_APP, withTimeout } from '../helpers/node.js';

/** History rules for the client tests: `chat-*` keeps plenty, `short-*` forgets after a second. */
export const HISTORY = [
  { pattern: 'chat-*', size: 10_000, ttlSeconds: 300 },
  { pattern: 'short-*', size: 1000, ttlSeconds: 1 },
];

/** `switchboard start` processes (killable with SIGKILL) sharing one Redis, with the history rules above. */
export class NodeFleet {
  private readonly dir = mkdtempSync(join(tmpdir(), 'switchboard-client-'));
  private readonly config = join(this.dir, 'config.json');
  readonly procs: NodeProcess[] = [];

  constructor(
    private readonly redisUrl: string,
    private readonly prefix: string,
  ) {
    writeFileSync(this.config, JSON.stringify({ apps: [{ ...DEV_APP, history: HISTORY }] }));
  }

  private args(): string[] {
    return ['--config', this.config, '--adapter', 'redis', '--redis-url', this.redisUrl, '--key-prefix', this.prefix];
  }

  /** A node on a free port. Start-up is given 30 s: on a loaded two-core machine 10 s was seen to run out. */
  async start(): Promise<{ proc: NodeProcess; port: number }> {
    const proc = NodeProcess.spawn(['--port', '0', ...this.args()]);
    this.procs.push(proc);
    const line = await proc.waitFor((l) => l.msg === 'switchboard node listening', 30_000);
    return { proc, port: line.port! };
  }

  /** A node on a given port (to bring back one that was killed). */
  async startOn(port: number): Promise<NodeProcess> {
    const proc = NodeProcess.spawn(['--port', String(port), ...this.args()]);
    this.procs.push(proc);
    await proc.waitFor((l) => l.msg === 'switchboard node listening', 30_000);
    return proc;
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.splice(0).map((p) => p.kill('SIGKILL')));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function sdkFor(port: number): Pusher {
  return new Pusher({ appId: DEV_APP.id, key: DEV_APP.key, secret: DEV_APP.secret, host: '127.0.0.1', port: String(port), useTLS: false });
}

/** Clients a test opened, disconnected together. */
export class ClientPool {
  private readonly clients: SwitchboardClient[] = [];

  open(options: SwitchboardOptions): SwitchboardClient {
    const client = new SwitchboardClient(DEV_APP.key, { cluster: 'mt1', ...options });
    this.clients.push(client);
    return client;
  }

  dispose(): void {
    for (const client of this.clients.splice(0)) client.disconnect();
  }
}

export function wsUrl(port: number): string {
  return `ws://127.0.0.1:${port}`;
}

/** Resolve once the client is connected. */
export function connectedClient(client: SwitchboardClient, ms = 5000): Promise<void> {
  if (client.connection.state === 'connected') return Promise.resolve();
  return withTimeout(
    new Promise<void>((resolve) => client.connection.bind('connected', () => resolve())),
    ms,
    `client not connected (${client.connection.state})`,
  );
}

/** Subscribe and resolve on the (next) subscription_succeeded; rejects on an error. */
export function subscribedTo(client: SwitchboardClient, name: string, ms = 5000): Promise<Channel> {
  const channel = client.subscribe(name);
  return withTimeout(
    new Promise<Channel>((resolve, reject) => {
      channel.bind('pusher:subscription_succeeded', () => resolve(channel));
      channel.bind('pusher:subscription_error', (e: unknown) => reject(new Error(`subscription error: ${JSON.stringify(e)}`)));
    }),
    ms,
    `no subscription_succeeded on ${name}`,
  );
}

/**
 * A TCP proxy in front of a node that holds every chunk for `delayMs` in both directions (a far or
 * overloaded node), and can cut its connections and refuse new ones for a while (a network drop).
 */
export interface TestProxy {
  port: number;
  /** Destroy every proxied connection; with `block`, refuse new ones until `unblock()`. */
  cut(block?: boolean): void;
  unblock(): void;
  close(): void;
}

export async function delayingProxy(targetPort: number, delayMs = 0): Promise<TestProxy> {
  const sockets = new Set<Socket>();
  let blocked = false;
  const forward = (from: Socket, to: Socket): void => {
    from.on('data', (chunk) => {
      if (delayMs === 0) to.write(chunk);
      else setTimeout(() => to.writable && to.write(chunk), delayMs);
    });
  };
  const server: Server = createServer((inbound) => {
    if (blocked) {
      inbound.destroy();
      return;
    }
    const outbound = new Socket();
    outbound.connect(targetPort, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        inbound.destroy();
        outbound.destroy();
      });
    }
    forward(inbound, outbound);
    forward(outbound, inbound);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    cut(block = false) {
      blocked = block;
      for (const s of sockets) s.destroy();
    },
    unblock() {
      blocked = false;
    },
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
