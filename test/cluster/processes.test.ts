import Pusher from 'pusher';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEV_APP } from '../helpers/node.js';
import { BrokerProcess, REDIS_BINARY, freePort, serviceAvailable } from './services.js';
import { eventually, sleep } from './harness.js';
import { NodeProcess, builtCliAvailable, getJson } from './node-process.js';

/** Real `switchboard start` processes: kill -9, leader failover, workers. */
const available = serviceAvailable(REDIS_BINARY, 'redis-server') && builtCliAvailable();

interface ClusterView {
  nodeId: string;
  leader: string | null;
  nodes: Array<{ id: string; self: boolean; leader: boolean }>;
}

type Message = { event: string; channel?: string; data?: string };

/** A raw WebSocket client that keeps every message. */
class Client {
  readonly messages: Message[] = [];
  closed = false;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (raw) => this.messages.push(JSON.parse(String(raw)) as Message));
    ws.on('close', () => (this.closed = true));
    ws.on('error', () => undefined);
  }
  static async open(port: number): Promise<Client> {
    const client = new Client(new WebSocket(`ws://127.0.0.1:${port}/app/${DEV_APP.key}?protocol=7&client=js&version=8.4.0`));
    await eventually(() => client.messages.some((m) => m.event === 'pusher:connection_established'), 3000, 'connection');
    return client;
  }
  get socketId(): string {
    return (JSON.parse(this.messages.find((m) => m.event === 'pusher:connection_established')!.data!) as { socket_id: string }).socket_id;
  }
  async subscribe(sdk: Pusher, channel: string, member?: { user_id: string }): Promise<void> {
    const auth =
      member !== undefined
        ? sdk.authorizeChannel(this.socketId, channel, member)
        : channel.startsWith('private-')
          ? sdk.authorizeChannel(this.socketId, channel)
          : {};
    this.ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel, ...auth } }));
    await eventually(() => this.messages.some((m) => m.channel === channel && m.event.endsWith('subscription_succeeded')), 3000, `subscribed to ${channel}`);
  }
  count(event: string, userId?: string): number {
    return this.messages.filter((m) => m.event === event && (userId === undefined || (JSON.parse(m.data!) as { user_id?: string }).user_id === userId)).length;
  }
}

function sdkFor(port: number): Pusher {
  return new Pusher({ appId: DEV_APP.id, key: DEV_APP.key, secret: DEV_APP.secret, host: '127.0.0.1', port: String(port), useTLS: false });
}

describe.skipIf(!available)('cluster of real node processes', () => {
  let redis: BrokerProcess;
  const procs: NodeProcess[] = [];
  const clients: Client[] = [];

  beforeAll(async () => {
    redis = await BrokerProcess.start('redis');
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate();
    await Promise.all(procs.splice(0).map((p) => p.kill('SIGKILL')));
  });
  afterAll(async () => {
    await redis?.stop();
  });

  const NODE_TIMEOUT_S = 3;
  const LEASE_S = 2;

  async function node(id: string, prefix: string): Promise<{ proc: NodeProcess; port: number }> {
    const started = await NodeProcess.start([
      '--adapter',
      'redis',
      '--redis-url',
      redis.url,
      '--key-prefix',
      prefix,
      '--node-id',
      id,
      '--heartbeat-interval',
      '0.5',
      '--node-timeout',
      String(NODE_TIMEOUT_S),
      '--leader-lease',
      String(LEASE_S),
      '--request-timeout',
      '1',
    ]);
    procs.push(started.proc);
    return started;
  }

  async function open(port: number): Promise<Client> {
    const client = await Client.open(port);
    clients.push(client);
    return client;
  }

  it('kill -9 of the leader: its users leave presence once each, a single new leader takes over, the others keep delivering', async () => {
    const prefix = `p${process.pid}a`;
    const started = await Promise.all(['a', 'b', 'c'].map((id) => node(id, prefix)));
    const ports = started.map((s) => s.port);
    let views: ClusterView[] = [];
    await eventually(
      () => {
        void Promise.all(ports.map((p) => getJson<ClusterView>(p, '/cluster'))).then((r) => (views = r.map((x) => x.body)));
        return views.length === 3 && views.every((v) => v.nodes.length === 3) && views.filter((v) => v.nodes.find((n) => n.self)!.leader).length === 1;
      },
      8000,
      'three nodes and one leader',
    );
    const leaderIndex = views.findIndex((v) => v.nodes.find((n) => n.self)!.leader);
    const leaderPort = ports[leaderIndex]!;
    const survivors = ports.filter((_, i) => i !== leaderIndex);
    const sdk = sdkFor(survivors[0]!);

    // Two users on the leader, an observer and a subscriber on the survivors.
    const observer = await open(survivors[0]!);
    await observer.subscribe(sdk, 'presence-lobby', { user_id: 'watcher' });
    const listener = await open(survivors[1]!);
    await listener.subscribe(sdk, 'ticker');
    for (const user of ['g1', 'g2']) {
      const ghost = await open(leaderPort);
      await ghost.subscribe(sdk, 'presence-lobby', { user_id: user });
    }
    await eventually(() => observer.count('pusher_internal:member_added') === 2, 3000, 'both users added');
    await sleep(300);

    // Sample leadership on the survivors throughout the failover: never two.
    let maxLeaders = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const now = await Promise.all(
          survivors.map((p) =>
            getJson<ClusterView>(p, '/cluster').then(
              (r) => r.body,
              () => null,
            ),
          ),
        );
        maxLeaders = Math.max(maxLeaders, now.filter((v) => v?.nodes.find((n) => n.self)?.leader === true).length);
        await sleep(50);
      }
    })();

    await started[leaderIndex]!.proc.kill('SIGKILL');
    const killedAt = Date.now();
    let delivered = 0;
    const removedIn = await eventually(
      () => {
        void sdk.trigger('ticker', 'tick', {}).then(
          () => undefined,
          () => undefined,
        );
        delivered = listener.count('tick');
        return observer.count('pusher_internal:member_removed') >= 2;
      },
      (NODE_TIMEOUT_S + 3) * 1000,
      'the dead node’s users to leave',
    );
    expect(removedIn).toBeLessThan((NODE_TIMEOUT_S + 2) * 1000);
    await eventually(
      () => {
        void Promise.all(survivors.map((p) => getJson<ClusterView>(p, '/cluster'))).then((r) => (views = r.map((x) => x.body)));
        return views.length === 2 && views.filter((v) => v.nodes.find((n) => n.self)?.leader).length === 1;
      },
      (LEASE_S + 3) * 1000,
      'a new leader',
    );
    expect(Date.now() - killedAt).toBeLessThan((NODE_TIMEOUT_S + LEASE_S + 2) * 1000);
    await sleep(LEASE_S * 1000);
    sampling = false;
    await sampler;
    expect(maxLeaders).toBe(1);

    expect(observer.count('pusher_internal:member_removed', 'g1')).toBe(1);
    expect(observer.count('pusher_internal:member_removed', 'g2')).toBe(1);
    const users = (await (await sdk.get({ path: '/channels/presence-lobby/users' })).json()) as { users: Array<{ id: string }> };
    expect(users.users.map((u) => u.id)).toEqual(['watcher']);
    expect(delivered).toBeGreaterThan(0); // the survivors delivered all along
    // Read afresh: `views` is whatever the polling above last stored, possibly from before both survivors had dropped the dead node.
    const finalViews = (await Promise.all(survivors.map((p) => getJson<ClusterView>(p, '/cluster')))).map((r) => r.body);
    expect(finalViews.map((v) => v.nodes.length)).toEqual([2, 2]);
  });

  it('--workers 2 with the local adapter: clients on different workers exchange messages; a crashed worker comes back; SIGTERM drains', async () => {
    const port = await freePort();
    const proc = NodeProcess.spawn(['--port', String(port), '--workers', '2', '--adapter', 'local', '--heartbeat-interval', '0.5', '--drain-seconds', '0']);
    procs.push(proc);
    await proc.waitFor((l) => l.msg === 'switchboard node listening');
    await proc.waitFor((l) => l.msg === 'switchboard node listening' && l.pid !== proc.lines.find((x) => x.msg === 'switchboard node listening')!.pid);
    const seen: { view: ClusterView | null } = { view: null };
    await eventually(
      () => {
        void getJson<ClusterView>(port, '/cluster').then(
          (r) => (seen.view = r.body),
          () => undefined,
        );
        return seen.view !== null && seen.view.nodes.length === 2;
      },
      5000,
      'two workers in /cluster',
    );

    // Connections are handed out round-robin: four clients cover both workers.
    const sdk = sdkFor(port);
    const members: Client[] = [];
    for (let i = 0; i < 4; i++) {
      const client = await open(port);
      await client.subscribe(sdk, 'private-shared');
      members.push(client);
    }
    await sleep(300);
    members[0]!.ws.send(JSON.stringify({ event: 'client-hello', channel: 'private-shared', data: { from: 0 } }));
    await sdk.trigger('private-shared', 'server-hello', {});
    await eventually(() => members.slice(1).every((m) => m.count('client-hello') === 1), 3000, 'the client event on every other socket');
    await eventually(() => members.every((m) => m.count('server-hello') === 1), 3000, 'the API event on every socket');

    // Kill one worker: the primary starts another.
    const workerPids = proc.lines.filter((l) => l.msg === 'switchboard node listening').map((l) => l.pid!);
    const mark = proc.lines.length;
    process.kill(workerPids[0]!, 'SIGKILL');
    const replacement = await proc.waitFor((l) => l.msg === 'switchboard node listening', 10_000, mark);
    expect(workerPids).not.toContain(replacement.pid);

    proc.child.kill('SIGTERM');
    await proc.exit(15_000);
    expect(proc.exitCode).toBe(0);
  });
});
