import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { Backoff } from '../../adapters/backoff.js';
import { errorMessage } from '../../adapters/link.js';
import { redactUrl } from '../../adapters/redis.js';
import type { Logger } from '../../util/logger.js';
import type { DeadLetter, QueuedBatch, WebhookQueue } from '../types.js';
import { decodeBatch, decodeDeadLetter, encodeBatch, encodeDeadLetter } from './codec.js';
import { LinkLog } from './link-log.js';
import { StreamDoorbell } from './redis-doorbell.js';
import { Wakeup } from './wakeup.js';
import { replayed } from '../batcher.js';

export interface RedisQueueOptions {
  /** `redis://` or `rediss://` (one server; Sentinel and Cluster URLs are not understood here). */
  url: string;
  /** Every key starts with `{keyPrefix}:webhooks:`. */
  keyPrefix: string;
  logger: Logger;
  /** How long an endpoint stays owned by a node that stopped renewing (it renews every third of this). Default 10 s. */
  leaseMs?: number;
}

/**
 * The Redis Streams driver. Per endpoint one stream, one consumer group and
 * one lease key: only the lease holder reads the stream, one entry at a time,
 * so an endpoint's batches go out in order and one at a time across every
 * node, and a batch that fails holds back the later ones of its endpoint.
 * A node that dies stops renewing; another takes the lease when it expires
 * and first re-claims the group's pending entry (the dead node's batch).
 */
export function createRedisQueue(options: RedisQueueOptions): WebhookQueue {
  return new RedisQueue(options);
}

const GROUP = 'delivery';
const BATCH_FIELD = 'b';
const DEAD_FIELD = 'd';
/** Dead letters kept (approximately: MAXLEN ~ trims whole stream nodes). */
const DEAD_MAXLEN = 10_000;
/** Longest an idle lease holder waits before looking at its stream again, whatever the doorbell says. */
const IDLE_RECHECK_MS = 5000;
/** How long close() waits for deliveries in flight to finish (and be acknowledged). */
const CLOSE_GRACE_MS = 5000;
/** Reconnect attempts an enqueue waits through before it rejects (about 5-15 s with the backoff below). */
const ENQUEUE_RECONNECT_ATTEMPTS = 8;

// Take the lease when free, extend it when ours: -1 when held, else the holder's remaining ms.
const ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return -1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return -1 end
return redis.call('PTTL', KEYS[1])
`;
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface Entry {
  readonly id: string;
  readonly fields: readonly string[];
}

/** One endpoint's consumer on this node. */
interface Lane {
  readonly endpoint: string;
  readonly stream: string;
  readonly lease: string;
  held: boolean;
  renewedAt: number;
  /** Set while the lane is idle and wants the doorbell: the group's last-delivered id. */
  idleAfter: string | null;
  delivering: boolean;
  /** Whether this lease term has dropped the group's idle consumers yet (done once the backlog is claimed). */
  pruned: boolean;
  readonly wakeup: Wakeup;
  readonly retry: Backoff;
  loop: Promise<void> | null;
}

class RedisQueue implements WebhookQueue {
  readonly kind = 'redis' as const;
  private readonly redis: Redis;
  /** Blocking reads need a connection of their own. */
  private readonly doorbell: StreamDoorbell;
  private readonly consumer = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly prefix: string;
  private readonly leaseMs: number;
  private readonly lanes = new Map<string, Lane>();
  /** Endpoints this instance enqueued to or consumes: what depth() sums over. */
  private readonly known = new Set<string>();
  private deliver: ((batch: QueuedBatch) => Promise<void>) | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private renewing = false;
  private readonly link: LinkLog;
  private closed = false;

  constructor(private readonly options: RedisQueueOptions) {
    // One server: the adapter's shard lists, Sentinel and Cluster URLs would need keys placed per slot.
    if (!/^rediss?:\/\/[^,]+$/.test(options.url))
      throw new Error(`webhook redis queue: unsupported URL ${redactUrl(options.url)} (one redis:// or rediss:// server)`);
    this.prefix = options.keyPrefix === '' ? 'webhooks' : `${options.keyPrefix}:webhooks`;
    this.leaseMs = Math.max(300, options.leaseMs ?? 10_000);
    this.link = new LinkLog(options.logger, 'redis', redactUrl(options.url));
    const backoff = new Backoff(100, 2000);
    this.redis = new Redis(options.url, {
      // ioredis keeps reconnecting (never gives up) and queues commands meanwhile; an enqueue
      // rejects after a bounded number of attempts so its caller can keep the batch and retry.
      retryStrategy: () => backoff.next(),
      maxRetriesPerRequest: ENQUEUE_RECONNECT_ATTEMPTS,
      // The stream replies below are read in their RESP2 shapes (ioredis 6 defaults to RESP3,
      // where XREAD's reply is a map that arrives flattened through call()).
      protocol: 2,
      connectionName: `switchboard-webhooks:${this.consumer}`,
    });
    // Connected on first use: a queue that only enqueues (or a CLI listing dead letters) never opens it.
    const doorbellClient = this.redis.duplicate({ maxRetriesPerRequest: 1, lazyConnect: true });
    this.doorbell = new StreamDoorbell(
      doorbellClient,
      () => this.lanes.values(),
      (err) => this.linkFailed(err),
    );
    this.redis.on('ready', () => {
      backoff.reset();
      this.link.back();
    });
    const onError = (err: unknown): void => this.linkFailed(err);
    this.redis.on('error', onError);
    doorbellClient.on('error', onError);
  }

  async enqueue(batch: QueuedBatch): Promise<void> {
    if (this.closed) throw new Error('webhook queue closed');
    this.known.add(batch.endpoint);
    await this.redis.call('XADD', [this.streamKey(batch.endpoint), '*', BATCH_FIELD, encodeBatch(batch)]);
    // A lane of ours waiting on this endpoint starts now rather than at its next doorbell.
    this.lanes.get(batch.endpoint)?.wakeup.ring();
  }

  async start(endpoints: readonly string[], deliver: (batch: QueuedBatch) => Promise<void>): Promise<void> {
    if (this.closed) throw new Error('webhook queue closed');
    // Called again (apps added), it adds the new endpoints; the latest callback is used for all.
    this.deliver = deliver;
    for (const endpoint of endpoints) {
      if (this.lanes.has(endpoint)) continue;
      this.known.add(endpoint);
      const key = hashOf(endpoint);
      const lane: Lane = {
        endpoint,
        stream: `${this.prefix}:q:${key}`,
        lease: `${this.prefix}:lease:${key}`,
        held: false,
        renewedAt: 0,
        idleAfter: null,
        delivering: false,
        pruned: false,
        wakeup: new Wakeup(),
        retry: new Backoff(250, 5000),
        loop: null,
      };
      this.lanes.set(endpoint, lane);
      lane.loop = this.run(lane);
    }
    if (this.renewTimer === null) {
      this.renewTimer = setInterval(() => void this.renewLeases(), Math.round(this.leaseMs / 3));
      this.renewTimer.unref();
    }
    this.doorbell.start();
  }

  async deadLetter(batch: QueuedBatch, reason: string): Promise<void> {
    const letter: DeadLetter = { batch, reason, failedAt: Date.now() };
    await this.redis.call('XADD', [this.deadKey(), 'MAXLEN', '~', DEAD_MAXLEN, '*', DEAD_FIELD, encodeDeadLetter(letter)]);
  }

  async listDead(limit: number): Promise<DeadLetter[]> {
    if (limit <= 0) return [];
    const entries = parseEntries(await this.redis.call('XREVRANGE', [this.deadKey(), '+', '-', 'COUNT', Math.floor(limit)]));
    const letters: DeadLetter[] = [];
    for (const entry of entries) {
      const letter = decodeDeadLetter(fieldOf(entry, DEAD_FIELD) ?? '');
      if (letter !== null) letters.push(letter);
    }
    return letters;
  }

  async replay(ids?: readonly string[]): Promise<number> {
    const wanted = ids === undefined ? null : new Set(ids);
    let moved = 0;
    let from = '-';
    for (;;) {
      const page = parseEntries(await this.redis.call('XRANGE', [this.deadKey(), from, '+', 'COUNT', 500]));
      if (page.length === 0) return moved;
      for (const entry of page) {
        const letter = decodeDeadLetter(fieldOf(entry, DEAD_FIELD) ?? '');
        if (letter === null || (wanted !== null && !wanted.has(letter.batch.id))) continue;
        // One transaction: the batch is back in its stream and out of the dead letters, or neither.
        const result = await this.redis
          .multi()
          .call('XADD', [this.streamKey(letter.batch.endpoint), '*', BATCH_FIELD, encodeBatch(replayed(letter.batch))])
          .call('XDEL', [this.deadKey(), entry.id])
          .exec();
        if (result === null || result.some(([err]) => err !== null)) throw new Error(`replay of ${letter.batch.id} failed`);
        moved++;
        this.known.add(letter.batch.endpoint);
        this.lanes.get(letter.batch.endpoint)?.wakeup.ring();
      }
      from = `(${page[page.length - 1]!.id}`;
    }
  }

  async depth(): Promise<number> {
    if (this.known.size === 0) return 0;
    const pipeline = this.redis.pipeline();
    for (const endpoint of this.known) pipeline.call('XLEN', [this.streamKey(endpoint)]);
    const results = (await pipeline.exec()) ?? [];
    let total = 0;
    for (const [err, value] of results) {
      if (err !== null) throw err;
      total += Number(value);
    }
    return total;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.renewTimer !== null) clearInterval(this.renewTimer);
    this.renewTimer = null;
    this.doorbell.close();
    for (const lane of this.lanes.values()) lane.wakeup.ring();
    // Deliveries in flight get a grace period to finish and be acknowledged;
    // one still running after it stays pending and is delivered again by the
    // next lease holder, once the lease (not released for it) has expired.
    const loops = [...this.lanes.values()].map((lane) => lane.loop);
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(loops), new Promise((resolve) => (grace = setTimeout(resolve, CLOSE_GRACE_MS)))]);
    clearTimeout(grace);
    const release = this.redis.pipeline();
    let releasing = 0;
    for (const lane of this.lanes.values()) {
      if (!lane.held || lane.delivering) continue;
      release.eval(RELEASE, 1, lane.lease, this.consumer);
      releasing++;
    }
    if (this.redis.status !== 'ready') {
      // Down: a QUIT would sit in the offline queue. The leases expire by themselves.
      this.redis.disconnect();
      return;
    }
    if (releasing > 0) await release.exec().catch(() => undefined);
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** One endpoint: take the lease, then deliver its entries one by one while the lease is ours. */
  private async run(lane: Lane): Promise<void> {
    while (!this.closed) {
      try {
        if (!this.holds(lane)) {
          const waitMs = await this.acquire(lane);
          if (waitMs > 0) {
            await lane.wakeup.wait(waitMs);
            continue;
          }
        }
        const entry = await this.next(lane);
        if (entry === null) {
          if (lane.held) await this.idle(lane);
          continue;
        }
        await this.handle(lane, entry);
      } catch (err) {
        this.linkFailed(err);
        await lane.wakeup.wait(lane.retry.next());
      }
    }
  }

  private holds(lane: Lane): boolean {
    // A lease not renewed for its whole length may already be someone else's.
    if (lane.held && Date.now() - lane.renewedAt >= this.leaseMs) lane.held = false;
    return lane.held;
  }

  /** Try to take the lease; 0 when held, else how long to wait before trying again. */
  private async acquire(lane: Lane): Promise<number> {
    const reply = Number(await this.redis.eval(ACQUIRE, 1, lane.lease, this.consumer, this.leaseMs));
    if (reply !== -1) {
      // Wake just after the holder's lease would expire (it renews long before, when alive).
      return Math.min(this.leaseMs, Math.max(50, reply)) + Math.round(Math.random() * 100);
    }
    lane.held = true;
    lane.renewedAt = Date.now();
    await this.ensureGroup(lane);
    lane.pruned = false;
    this.options.logger.debug({ endpoint: lane.endpoint, consumer: this.consumer }, 'webhook queue: endpoint lease taken');
    return 0;
  }

  private async ensureGroup(lane: Lane): Promise<void> {
    try {
      await this.redis.call('XGROUP', ['CREATE', lane.stream, GROUP, '0', 'MKSTREAM']);
    } catch (err) {
      if (!errorMessage(err).includes('BUSYGROUP')) throw err;
    }
  }

  /**
   * Every node that ever held the lease left a consumer in the group (names
   * carry a pid): drop those with nothing pending, so the group does not grow
   * with every restart. One with entries pending stays until they are
   * claimed: deleting it would drop them from the pending list.
   */
  private async pruneConsumers(lane: Lane): Promise<void> {
    const consumers = await this.redis.call('XINFO', ['CONSUMERS', lane.stream, GROUP]);
    if (!Array.isArray(consumers)) return;
    for (const consumer of consumers) {
      if (!Array.isArray(consumer)) continue;
      const fields = consumer.map(String);
      const name = fields[fields.indexOf('name') + 1];
      const pending = Number(fields[fields.indexOf('pending') + 1]);
      if (name !== undefined && name !== this.consumer && pending === 0) await this.redis.call('XGROUP', ['DELCONSUMER', lane.stream, GROUP, name]);
    }
  }

  /** The endpoint's next entry: first one pending in the group (a previous holder's), then a new one. */
  private async next(lane: Lane): Promise<Entry | null> {
    try {
      return (await this.claimPending(lane)) ?? (await this.readNew(lane));
    } catch (err) {
      // The stream or its group is gone (Redis restarted empty, keys flushed): so is the
      // lease then, most likely. Take it again (which makes the group) before reading.
      if (!errorMessage(err).includes('NOGROUP')) throw err;
      lane.held = false;
      return null;
    }
  }

  private async claimPending(lane: Lane): Promise<Entry | null> {
    // Only the lease holder reads this stream, so every pending entry is one a
    // previous holder (or this node, before a failed attempt) did not finish:
    // claim it whatever its idle time. Entries deleted meanwhile come back as
    // "deleted" and drop out of the pending list; keep scanning past them.
    let cursor = '0-0';
    for (let scans = 0; scans < 100; scans++) {
      const reply = await this.redis.call('XAUTOCLAIM', [lane.stream, GROUP, this.consumer, '0', cursor, 'COUNT', '1']);
      if (!Array.isArray(reply)) return null;
      const entries = parseEntries(reply[1]);
      if (entries.length > 0) return entries[0]!;
      cursor = String(reply[0]);
      if (cursor === '0-0') return null;
    }
    return null;
  }

  private async readNew(lane: Lane): Promise<Entry | null> {
    const reply = await this.redis.call('XREADGROUP', ['GROUP', GROUP, this.consumer, 'COUNT', '1', 'STREAMS', lane.stream, '>']);
    if (!Array.isArray(reply) || reply.length === 0) return null;
    const stream: unknown = reply[0];
    return Array.isArray(stream) ? (parseEntries(stream[1])[0] ?? null) : null;
  }

  /** Nothing to deliver: wait for the doorbell (any node's XADD), a local enqueue, or the recheck. */
  private async idle(lane: Lane): Promise<void> {
    if (!lane.pruned) {
      // Nothing pending now (the previous holders' entries are claimed and done): their consumers can go.
      lane.pruned = true;
      await this.pruneConsumers(lane);
    }
    lane.idleAfter = await this.lastDelivered(lane);
    this.doorbell.poke();
    try {
      await lane.wakeup.wait(IDLE_RECHECK_MS);
    } finally {
      lane.idleAfter = null;
    }
  }

  /** The group's last-delivered id: entries after it are new (acknowledged ones are deleted, so the stream holds no others). */
  private async lastDelivered(lane: Lane): Promise<string> {
    let groups: unknown;
    try {
      groups = await this.redis.call('XINFO', ['GROUPS', lane.stream]);
    } catch (err) {
      // Deleted since the read (flushed): anything added from now on is new.
      if (errorMessage(err).includes('no such key')) return '0-0';
      throw err;
    }
    if (Array.isArray(groups)) {
      for (const group of groups) {
        if (!Array.isArray(group)) continue;
        const fields = group.map(String);
        if (fields[fields.indexOf('name') + 1] !== GROUP) continue;
        const last = fields[fields.indexOf('last-delivered-id') + 1];
        if (last !== undefined) return last;
      }
    }
    return '0-0';
  }

  private async handle(lane: Lane, entry: Entry): Promise<void> {
    const batch = decodeBatch(fieldOf(entry, BATCH_FIELD) ?? '');
    if (batch === null) {
      // Not something this code wrote: nothing could deliver it, so it must not hold the endpoint back.
      this.options.logger.error(
        { endpoint: lane.endpoint, entry: entry.id, fields: entry.fields.join(' ').slice(0, 200) },
        'webhook queue: dropping an undecodable entry',
      );
      await this.settle(lane, entry.id);
      return;
    }
    const deliver = this.deliver!;
    lane.delivering = true;
    let delivered = false;
    try {
      await deliver(batch);
      delivered = true;
    } catch (err) {
      this.options.logger.warn({ endpoint: lane.endpoint, batch: batch.id, err: errorMessage(err) }, 'webhook queue: delivery failed, will retry');
    }
    try {
      if (delivered) {
        await this.settle(lane, entry.id);
        lane.retry.reset();
      } else if (!this.closed) {
        // Left pending: the next turn claims it again, before any later entry.
        await lane.wakeup.wait(lane.retry.next());
      }
    } finally {
      lane.delivering = false;
    }
  }

  /** Acknowledge and delete, retried through a broken connection (until close gives up on it). */
  private async settle(lane: Lane, id: string): Promise<void> {
    const backoff = new Backoff(100, 2000);
    for (;;) {
      try {
        const result = await this.redis.multi().call('XACK', [lane.stream, GROUP, id]).call('XDEL', [lane.stream, id]).exec();
        if (result?.every(([err]) => err === null)) return;
        throw new Error('XACK/XDEL transaction failed');
      } catch (err) {
        // Closed and disconnected: the entry stays pending and is delivered again (at least once).
        if (this.closed && this.redis.status === 'end') return;
        this.linkFailed(err);
        await new Promise((resolve) => setTimeout(resolve, backoff.next()));
      }
    }
  }

  /** Extend every lease this node holds, in one round trip; drop those that turned out to be someone else's. */
  private async renewLeases(): Promise<void> {
    // While Redis is down a renewal waits in ioredis' offline queue: do not stack more behind it.
    if (this.renewing) return;
    const held = [...this.lanes.values()].filter((lane) => lane.held);
    if (held.length === 0) return;
    this.renewing = true;
    const pipeline = this.redis.pipeline();
    for (const lane of held) pipeline.eval(RENEW, 1, lane.lease, this.consumer, this.leaseMs);
    const sentAt = Date.now();
    try {
      const results = (await pipeline.exec()) ?? [];
      held.forEach((lane, i) => {
        const [err, value] = results[i] ?? [new Error('no reply'), null];
        if (err !== null) return;
        if (Number(value) === 1) {
          lane.renewedAt = sentAt;
        } else if (lane.held) {
          lane.held = false;
          this.options.logger.warn({ endpoint: lane.endpoint, delivering: lane.delivering }, 'webhook queue: endpoint lease lost');
          lane.wakeup.ring();
        }
      });
    } catch (err) {
      this.linkFailed(err);
    } finally {
      this.renewing = false;
    }
  }

  private linkFailed(err: unknown): void {
    if (this.closed) return;
    this.link.failed(err);
  }

  private streamKey(endpoint: string): string {
    return `${this.prefix}:q:${hashOf(endpoint)}`;
  }

  private deadKey(): string {
    return `${this.prefix}:dead`;
  }
}

/** Endpoint keys are URLs: hash them into short, safe key parts. */
function hashOf(endpoint: string): string {
  return createHash('sha256').update(endpoint).digest('hex').slice(0, 32);
}

/** `[[id, [field, value, ...]], ...]` as entries; nil entries (deleted meanwhile) are left out. */
function parseEntries(reply: unknown): Entry[] {
  if (!Array.isArray(reply)) return [];
  const entries: Entry[] = [];
  for (const item of reply) {
    if (!Array.isArray(item) || !Array.isArray(item[1])) continue;
    entries.push({ id: String(item[0]), fields: (item[1] as unknown[]).map(String) });
  }
  return entries;
}

function fieldOf(entry: Entry, name: string): string | undefined {
  for (let i = 0; i + 1 < entry.fields.length; i += 2) if (entry.fields[i] === name) return entry.fields[i + 1];
  return undefined;
}
