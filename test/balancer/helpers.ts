import { readdirSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { Balancer } from '../../src/balancer/balancer.js';
import { balancerConfig, type BalancerConfigInput } from '../../src/balancer/config.js';
import { createLogger } from '../../src/util/logger.js';
import { DEV_APP } from '../helpers/node.js';

/** A real balancer in this process on a free loopback port, with fast checks. */
export async function startBalancer(input: Partial<BalancerConfigInput>): Promise<Balancer> {
  const config = balancerConfig({
    host: '127.0.0.1',
    listen: 0,
    logLevel: 'silent',
    healthInterval: 0.2,
    healthFastInterval: 0.05,
    slowStart: 0,
    ...input,
  } as BalancerConfigInput);
  const balancer = new Balancer(config, createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'));
  await balancer.start();
  return balancer;
}

/**
 * Resolve once every backend of the balancer is up (or `count` of them).
 * Normally ~1 s (two good checks at the fast interval); the deadline allows a
 * loaded machine's check that timed out and had to rise again.
 */
export async function backendsUp(balancer: Balancer, count = balancer.set.all().length, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (balancer.set.all().filter((b) => b.health.state === 'up').length < count) {
    if (Date.now() > deadline) throw new Error(`backends not up: ${JSON.stringify(balancer.set.all().map((b) => [b.address, b.health.state]))}`);
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function until(check: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Open file descriptors of this process. */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

export const WS_PATH = `/app/${DEV_APP.key}?protocol=7&client=js&version=8.4.0`;

/** A raw WebSocket through `port`, resolved once Pusher's connection_established arrived. */
export async function openPusherSocket(port: number): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${WS_PATH}`);
  ws.on('error', () => undefined);
  const [data] = (await once(ws, 'message')) as [Buffer];
  if (!String(data).includes('pusher:connection_established')) throw new Error(`unexpected first message ${String(data)}`);
  return ws;
}

/** Open `n` sockets, `parallel` at a time. */
export async function openMany(port: number, n: number, parallel = 50): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) {
        next++;
        sockets.push(await openPusherSocket(port));
      }
    }),
  );
  return sockets;
}

export async function closeAll(sockets: WebSocket[]): Promise<void> {
  await Promise.all(
    sockets.map(async (ws) => {
      if (ws.readyState === WebSocket.CLOSED) return;
      const closed = once(ws, 'close');
      ws.terminate();
      await closed;
    }),
  );
}

/**
 * A small real backend (http + ws) whose `/ready` answer the test decides:
 * for states a real node passes through too fast to observe (draining that
 * keeps its connections). It echoes WebSocket messages.
 */
export class ScriptedBackend {
  ready: { status: number; body: unknown } = { status: 200, body: { ready: true, load: { connections: 0, elu: 0, state: 'ready' } } };
  readonly requests: IncomingMessage[] = [];
  readonly sockets = new Set<WebSocket>();
  private constructor(
    readonly server: Server,
    readonly wss: WebSocketServer,
  ) {}

  static async start(): Promise<ScriptedBackend> {
    const server = createServer();
    const wss = new WebSocketServer({ server });
    const backend = new ScriptedBackend(server, wss);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      backend.requests.push(req);
      const answer = req.url === '/ready' ? backend.ready : { status: 200, body: { path: req.url, headers: req.headers } };
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
    wss.on('connection', (ws, req) => {
      backend.requests.push(req);
      backend.sockets.add(ws);
      ws.send(JSON.stringify({ event: 'pusher:connection_established', data: JSON.stringify({ socket_id: '1.1', xff: req.headers['x-forwarded-for'] }) }));
      ws.on('message', (m) => ws.send(String(m)));
      ws.on('close', () => backend.sockets.delete(ws));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return backend;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((r) => {
      this.wss.close();
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }
}
