import { LocalAdapter, LocalBus, NatsAdapter, RedisAdapter, type ClusterTransport } from '../../src/adapters/index.js';
import { ClusterNode, type CachedEvent, type ClusterHost, type ClusterNodeOptions, type ClusterQuery, type NodeLoad } from '../../src/cluster/index.js';
import { AppMembership } from '../../src/core/membership.js';
import { BrokerProcess, RedisClusterProcess } from './services.js';

export type AdapterKind = 'local' | 'redis' | 'nats' | 'redis-cluster';

/** Makes transports of one kind, all reaching the same broker (or in-process bus). */
export class TransportFactory {
  private readonly made: ClusterTransport[] = [];
  private readonly bus = new LocalBus();

  constructor(
    readonly kind: AdapterKind,
    /** The single broker process that tests may kill and restart (redis, nats). */
    readonly broker: BrokerProcess | null,
    readonly redisCluster: RedisClusterProcess | null = null,
  ) {}

  static async create(kind: AdapterKind): Promise<TransportFactory> {
    if (kind === 'local') return new TransportFactory(kind, null);
    if (kind === 'redis-cluster') return new TransportFactory(kind, null, await RedisClusterProcess.start());
    return new TransportFactory(kind, await BrokerProcess.start(kind));
  }

  make(prefix = 'test'): ClusterTransport {
    const transport =
      this.kind === 'local'
        ? new LocalAdapter(this.bus, prefix)
        : this.kind === 'redis'
          ? new RedisAdapter({ urls: [this.broker!.url], prefix })
          : this.kind === 'redis-cluster'
            ? new RedisAdapter({ urls: [this.redisCluster!.url], prefix })
            : new NatsAdapter({ servers: [this.broker!.url], prefix });
    this.made.push(transport);
    return transport;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.made.splice(0).map((t) => t.close()));
    await this.broker?.stop();
    await this.redisCluster?.stop();
  }
}

/**
 * A ClusterHost with one app ('app') whose membership model records the
 * transitions it decides; its LOCAL_NODE share stands for this node's clients.
 */
class RecordingHost implements ClusterHost {
  readonly model = new AppMembership();
  readonly delivered: Array<{ app: string; channel: string; json: string; except: string | undefined }> = [];
  readonly added: Array<{ channel: string; userId: string; userInfo: unknown }> = [];
  readonly removed: Array<{ channel: string; userId: string }> = [];
  readonly terminated: string[] = [];
  subscribers = new Map<string, number>();
  /** Watchlist transitions the model decided, as 'online:user' / 'offline:user'. */
  readonly userEvents: string[] = [];
  /** Channel transitions the model decided, as 'occupied:channel' / 'vacated:channel'. */
  readonly channelEvents: string[] = [];
  /** Cache channel → last event, with the Date.now() it was stored at. */
  readonly cache = new Map<string, { json: string; storedAt: number }>();

  constructor(readonly isReplicated = false) {
    this.model.observe({
      memberAdded: (channel, userId, userInfo) => this.added.push({ channel, userId, userInfo }),
      memberRemoved: (channel, userId) => this.removed.push({ channel, userId }),
      userOnline: (userId) => this.userEvents.push(`online:${userId}`),
      userOffline: (userId) => this.userEvents.push(`offline:${userId}`),
      channelOccupied: (channel) => this.channelEvents.push(`occupied:${channel}`),
      channelVacated: (channel) => this.channelEvents.push(`vacated:${channel}`),
    });
  }

  membership(app: string): AppMembership | undefined {
    return app === 'app' ? this.model : undefined;
  }
  replicated(app: string): boolean {
    return app === 'app' && this.isReplicated;
  }
  appIds(): Iterable<string> {
    return ['app'];
  }
  /** Cache marks another node sent, as 'miss:channel' / 'filled:channel'. */
  readonly cacheEvents: string[] = [];
  cacheChanged(_app: string, channel: string, missed: boolean): void {
    this.cacheEvents.push(`${missed ? 'miss' : 'filled'}:${channel}`);
  }
  cachedEvent(_app: string, channel: string): CachedEvent | undefined {
    const entry = this.cache.get(channel);
    return entry === undefined ? undefined : { json: entry.json, ageMs: Date.now() - entry.storedAt };
  }
  storeCachedEvent(_app: string, channel: string, event: CachedEvent): void {
    this.cache.set(channel, { json: event.json, storedAt: Date.now() - event.ageMs });
  }
  deliver(app: string, channel: string, json: string, except: string | undefined): void {
    this.delivered.push({ app, channel, json, except });
  }
  answer(query: ClusterQuery): unknown {
    switch (query.q) {
      case 'channels':
        return [...this.subscribers].map(([name, subscriptionCount]) => ({ name, subscriptionCount }));
      case 'terminate-user':
        this.terminated.push(query.user);
        return 1;
      case 'presence-users':
        return this.model.localMembers(query.name).map(([id]) => id);
      case 'cached-event':
        return this.cachedEvent(query.app, query.name) ?? null;
      default:
        return null;
    }
  }
  load(): NodeLoad {
    return { connections: 0, channels: this.subscribers.size };
  }
}

/** Timings short enough for tests, long enough for two cores under load. */
const FAST: Omit<ClusterNodeOptions, 'nodeId' | 'address'> = {
  heartbeatIntervalMs: 200,
  nodeTimeoutMs: 1200,
  requestTimeoutMs: 800,
  leaderLeaseMs: 1200,
  connectWaitMs: 3000,
};

export interface TestNode {
  readonly node: ClusterNode;
  readonly host: RecordingHost;
  readonly transport: ClusterTransport;
}

export async function startClusterNode(factory: TransportFactory, nodeId: string, prefix = 'test', replicated = false): Promise<TestNode> {
  const transport = factory.make(prefix);
  const host = new RecordingHost(replicated);
  const node = new ClusterNode(transport, host, { nodeId, address: `127.0.0.1:${nodeId}`, ...FAST });
  host.model.announceTo(node.announcerFor('app'));
  await node.start();
  return { node, host, transport };
}

/** Two connected transports from `make`: `receiver` is subscribed to `subject` and `got` collects its payloads in arrival order. */
export async function connectedPair<T extends ClusterTransport>(make: () => T, subject: string): Promise<{ sender: T; receiver: T; got: string[] }> {
  const sender = make();
  const receiver = make();
  const got: string[] = [];
  receiver.setHandler((_subject, payload) => got.push(payload));
  await Promise.all([sender.connect(), receiver.connect()]);
  await receiver.subscribe(subject);
  return { sender, receiver, got };
}

/** Poll `check` until it returns true (bounded by `ms`). */
export async function eventually(check: () => boolean, ms = 5000, what = 'condition'): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
  return Date.now() - started;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
