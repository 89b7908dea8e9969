import { Cluster, type ClusterOptions } from 'ioredis';
import { errorMessage, type BrokerSession, type SessionSink } from './link.js';
import { ACQUIRE_LEASE, RELEASE_LEASE, leaseTtlArg, parseLeaseReply } from './redis-lease.js';
import type { LeaseHolder } from './types.js';

const CLUSTER_SCHEME = 'redis-cluster://';

/** `redis-cluster://[password@]host:port,host:port`: the seed nodes of a Redis Cluster. */
export function isClusterUrl(url: string): boolean {
  return url.startsWith(CLUSTER_SCHEME);
}

interface ClusterSeeds {
  nodes: Array<{ host: string; port: number }>;
  password?: string;
}

function parseClusterUrl(url: string): ClusterSeeds {
  let rest = url.slice(CLUSTER_SCHEME.length).replace(/\/.*$/, '');
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at !== -1) {
    password = decodeURIComponent(rest.slice(0, at).replace(/^[^:]*:/, ''));
    rest = rest.slice(at + 1);
  }
  const nodes = rest
    .split(',')
    .filter((h) => h !== '')
    .map((h) => {
      const colon = h.lastIndexOf(':');
      return colon === -1 ? { host: h, port: 6379 } : { host: h.slice(0, colon), port: Number(h.slice(colon + 1)) };
    });
  if (nodes.length === 0 || nodes.some((n) => !Number.isInteger(n.port) || n.port <= 0 || n.port > 65535))
    throw new Error('redis-cluster:// needs host:port seed nodes');
  return password === undefined ? { nodes } : { nodes, password };
}

/**
 * One session on a Redis Cluster: a command connection (publishes, the
 * lease) and a subscriber group with one connection per shard. Subjects
 * travel by sharded pub/sub (SPUBLISH / SSUBSCRIBE, Redis 7): a message goes
 * only to the shard that owns its subject's slot, not over the whole
 * cluster bus, so pub/sub traffic scales with the shards.
 */
export async function openClusterSession(url: string, sink: SessionSink, connectTimeout: number): Promise<BrokerSession> {
  const seeds = parseClusterUrl(url);
  // As for standalone Redis, reconnecting is the link's job: ioredis neither retries nor queues offline.
  const options: ClusterOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    clusterRetryStrategy: () => null,
    // Publishes of one tick leave as one write per shard.
    enableAutoPipelining: true,
    slotsRefreshTimeout: connectTimeout,
    redisOptions: {
      connectTimeout,
      maxRetriesPerRequest: 0,
      ...(seeds.password !== undefined ? { password: seeds.password } : {}),
    },
  };
  const commands = new Cluster(seeds.nodes, options);
  const subscriber = new Cluster(seeds.nodes, { ...options, shardedSubscribers: true });
  const onLost = (): void => sink.lost(`redis cluster connection lost`);
  const ignore = (): void => {};
  for (const client of [commands, subscriber]) {
    client.on('error', ignore);
    client.on('end', onLost);
  }
  subscriber.on('smessage', (subject: string, payload: string) => sink.deliver(subject, payload));
  const session = new RedisClusterSession(commands, subscriber, onLost, sink);
  try {
    await Promise.all([commands.connect(), subscriber.connect()]);
  } catch (err) {
    await session.close();
    throw new Error(`redis cluster ${seeds.nodes.map((n) => `${n.host}:${n.port}`).join(',')}: ${errorMessage(err)}`);
  }
  return session;
}

class RedisClusterSession implements BrokerSession {
  constructor(
    private readonly commands: Cluster,
    private readonly subscriber: Cluster,
    private readonly onLost: () => void,
    private readonly sink: SessionSink,
  ) {}

  publishBatch(batch: ReadonlyArray<readonly [string, string]>): void {
    // Auto-pipelining groups these per shard; a pipeline of our own could not span slots.
    // One shard failing (its master died, a replica is taking over) does not end the session: say what it lost.
    for (const [subject, payload] of batch) this.commands.spublish(subject, payload).catch((err: unknown) => this.sink.refused(subject, errorMessage(err)));
  }

  async subscribe(subject: string): Promise<void> {
    await this.subscriber.ssubscribe(subject);
  }

  unsubscribe(subject: string): void {
    this.subscriber.sunsubscribe(subject).catch(ignoreFailure);
  }

  async acquire(key: string, owner: string, ttlMs: number): Promise<LeaseHolder | null> {
    // A hash tag puts the lease and its fencing counter in one slot, as one script needs.
    const tagged = `{${key}}`;
    return parseLeaseReply(await this.commands.eval(ACQUIRE_LEASE, 2, tagged, `${tagged}.token`, owner, leaseTtlArg(ttlMs)));
  }

  async release(key: string, owner: string): Promise<void> {
    await this.commands.eval(RELEASE_LEASE, 1, `{${key}}`, owner);
  }

  async close(): Promise<void> {
    for (const client of [this.commands, this.subscriber]) {
      client.off('end', this.onLost);
      client.disconnect();
    }
  }
}

// A publish lost with a connection is counted by the cluster layer's degraded-mode accounting.
function ignoreFailure(): void {}
