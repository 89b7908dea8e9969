import { Redis, type RedisOptions } from 'ioredis';
import { BrokerLink, errorMessage, type BrokerLinkOptions, type BrokerSession, type SessionSink } from './link.js';
import { isClusterUrl, openClusterSession } from './redis-cluster.js';
import { ACQUIRE_LEASE, RELEASE_LEASE, leaseTtlArg, parseLeaseReply } from './redis-lease.js';
import { shardOf } from './shard.js';
import type { LeaseHolder } from './types.js';

export interface RedisAdapterOptions extends BrokerLinkOptions {
  /**
   * One URL, or several standalone servers used as shards (subjects placed by
   * a stable hash). `redis://`, `rediss://` (TLS),
   * `redis-sentinel://host:port,host:port/masterName` and
   * `redis-cluster://host:port,host:port` (a Redis Cluster, with sharded
   * pub/sub; alone, not mixed with shards) are understood.
   */
  urls: readonly string[];
  connectTimeoutMs?: number;
}

/** Pub/sub on Redis; a lease as a key set-if-absent with expiry plus a fencing counter. */
export class RedisAdapter extends BrokerLink {
  readonly kind = 'redis' as const;

  constructor(private readonly options: RedisAdapterOptions) {
    super(options);
    if (options.urls.length === 0) throw new Error('redis adapter needs at least one URL');
    if (options.urls.length > 1 && options.urls.some(isClusterUrl))
      throw new Error('a redis-cluster:// URL places channels itself: give it alone, not with shards');
  }

  protected async openSession(sink: SessionSink): Promise<BrokerSession> {
    const first = this.options.urls[0]!;
    if (isClusterUrl(first)) return openClusterSession(first, sink, this.options.connectTimeoutMs ?? 2000);
    const shards: Shard[] = [];
    try {
      for (const url of this.options.urls) shards.push(await openShard(url, sink, this.options.connectTimeoutMs ?? 2000));
    } catch (err) {
      for (const shard of shards) shard.disconnect();
      throw err;
    }
    return new RedisSession(shards, sink);
  }
}

interface Shard {
  readonly commands: Redis;
  readonly subscriber: Redis;
  disconnect(): void;
}

async function openShard(url: string, sink: SessionSink, connectTimeout: number): Promise<Shard> {
  // Reconnecting is the link's job (one state machine for every adapter):
  // ioredis is told never to retry or queue while offline.
  const options: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResubscribe: false,
    retryStrategy: () => null,
    connectTimeout,
    ...sentinelOptions(url),
  };
  const commands = isSentinelUrl(url) ? new Redis(options) : new Redis(url, options);
  const subscriber = commands.duplicate();
  const onLost = (): void => sink.lost(`redis connection to ${redactUrl(url)} lost`);
  const ignore = (): void => {};
  for (const client of [commands, subscriber]) {
    client.on('error', ignore);
    client.on('end', onLost);
  }
  subscriber.on('message', (subject: string, payload: string) => sink.deliver(subject, payload));
  const disconnect = (): void => {
    commands.off('end', onLost);
    subscriber.off('end', onLost);
    commands.disconnect();
    subscriber.disconnect();
  };
  try {
    await Promise.all([commands.connect(), subscriber.connect()]);
  } catch (err) {
    disconnect();
    throw new Error(`redis ${redactUrl(url)}: ${errorMessage(err)}`);
  }
  return { commands, subscriber, disconnect };
}

class RedisSession implements BrokerSession {
  constructor(
    private readonly shards: readonly Shard[],
    private readonly sink: SessionSink,
  ) {}

  private shard(subject: string): Shard {
    return this.shards[shardOf(subject, this.shards.length)]!;
  }

  publishBatch(batch: ReadonlyArray<readonly [string, string]>): void {
    if (this.shards.length === 1 && batch.length === 1) {
      const [subject, payload] = batch[0]!;
      this.shards[0]!.commands.publish(subject, payload).catch((err: unknown) => this.sink.refused(subject, errorMessage(err)));
      return;
    }
    // One pipeline per shard: the batch leaves in one socket write each.
    const pipelines = new Map<Shard, { pipeline: ReturnType<Redis['pipeline']>; subjects: string[] }>();
    for (const [subject, payload] of batch) {
      const shard = this.shard(subject);
      let entry = pipelines.get(shard);
      if (entry === undefined) pipelines.set(shard, (entry = { pipeline: shard.commands.pipeline(), subjects: [] }));
      entry.pipeline.publish(subject, payload);
      entry.subjects.push(subject);
    }
    for (const { pipeline, subjects } of pipelines.values()) {
      pipeline.exec().then(
        (results) =>
          results?.forEach(([err], i) => {
            if (err) this.sink.refused(subjects[i]!, errorMessage(err));
          }),
        (err: unknown) => subjects.forEach((subject) => this.sink.refused(subject, errorMessage(err))),
      );
    }
  }

  async subscribe(subject: string): Promise<void> {
    await this.shard(subject).subscriber.subscribe(subject);
  }

  unsubscribe(subject: string): void {
    this.shard(subject).subscriber.unsubscribe(subject).catch(ignoreFailure);
  }

  async acquire(key: string, owner: string, ttlMs: number): Promise<LeaseHolder | null> {
    return parseLeaseReply(await this.shards[0]!.commands.eval(ACQUIRE_LEASE, 2, key, `${key}.token`, owner, leaseTtlArg(ttlMs)));
  }

  async release(key: string, owner: string): Promise<void> {
    await this.shards[0]!.commands.eval(RELEASE_LEASE, 1, key, owner);
  }

  async close(): Promise<void> {
    for (const shard of this.shards) shard.disconnect();
  }
}

// The link's 'end' event triggers the reconnect; a failed unsubscribe leaves
// nothing to undo (the connection is going, and with it the subscription).
function ignoreFailure(): void {}

const SENTINEL_SCHEME = 'redis-sentinel://';

function isSentinelUrl(url: string): boolean {
  return url.startsWith(SENTINEL_SCHEME);
}

/** `redis-sentinel://[password@]h1:p1,h2:p2/masterName` → ioredis Sentinel options. */
function sentinelOptions(url: string): Partial<RedisOptions> {
  if (!isSentinelUrl(url)) return {};
  let rest = url.slice(SENTINEL_SCHEME.length);
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at !== -1) {
    password = decodeURIComponent(rest.slice(0, at).replace(/^:/, ''));
    rest = rest.slice(at + 1);
  }
  const slash = rest.indexOf('/');
  const hosts = slash === -1 ? rest : rest.slice(0, slash);
  const name = slash === -1 ? 'mymaster' : rest.slice(slash + 1) || 'mymaster';
  const sentinels = hosts.split(',').map((h) => {
    const colon = h.lastIndexOf(':');
    return colon === -1 ? { host: h, port: 26379 } : { host: h.slice(0, colon), port: Number(h.slice(colon + 1)) };
  });
  return { sentinels, name, ...(password !== undefined ? { password } : {}), sentinelRetryStrategy: () => null };
}

/** A URL without its password, for logs and errors. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, (_, auth: string) => (auth.includes(':') ? '//***@' : `//${auth}@`));
}
