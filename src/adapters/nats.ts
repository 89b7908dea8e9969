import { ErrorCode, connect, type KV, type NatsConnection, type Subscription } from 'nats';
import { BrokerLink, errorMessage, type BrokerLinkOptions, type BrokerSession, type SessionSink } from './link.js';
import type { LeaseHolder } from './types.js';

export interface NatsAdapterOptions extends BrokerLinkOptions {
  /** One or several server URLs of one NATS cluster (`nats://host:4222`). */
  servers: readonly string[];
  connectTimeoutMs?: number;
  /** Client name shown by the server's monitoring. */
  name?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Pub/sub on NATS core subjects; the lease is a JetStream KV entry (bucket
 * TTL = lease time, create-if-absent, renew by compare-and-set). The entry's
 * revision is the fencing token: a stream sequence, so a later holder's is
 * always larger. Needs a server with JetStream enabled (`-js`) for leases.
 */
export class NatsAdapter extends BrokerLink {
  readonly kind = 'nats' as const;

  constructor(private readonly options: NatsAdapterOptions) {
    super(options);
    if (options.servers.length === 0) throw new Error('nats adapter needs at least one server URL');
  }

  protected async openSession(sink: SessionSink): Promise<BrokerSession> {
    // Reconnecting is the link's job (one state machine for every adapter).
    const nc = await connect({
      servers: [...this.options.servers],
      reconnect: false,
      timeout: this.options.connectTimeoutMs ?? 2000,
      pingInterval: 2000,
      maxPingOut: 2,
      name: this.options.name ?? 'switchboard',
      // A node has no use for its own messages (the cluster layer would drop
      // them): the server need not send them back.
      noEcho: true,
    });
    void nc.closed().then((err) => sink.lost(err ? `nats connection lost: ${err.message}` : 'nats connection closed'));
    return new NatsSession(nc, sink);
  }
}

class NatsSession implements BrokerSession {
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly buckets = new Map<number, Promise<KV>>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly sink: SessionSink,
  ) {}

  publishBatch(batch: ReadonlyArray<readonly [string, string]>): void {
    // nats.js buffers writes and flushes them together: one socket write per batch.
    for (const [subject, payload] of batch) {
      try {
        this.nc.publish(subject, encoder.encode(payload));
      } catch (err) {
        // One message over the server's max_payload must not cost the link (and the rest of the batch).
        if ((err as { code?: unknown }).code !== ErrorCode.MaxPayloadExceeded) throw err;
        this.sink.refused(subject, `larger than the server's max_payload (${this.nc.info?.max_payload ?? '?'} bytes)`);
      }
    }
  }

  async subscribe(subject: string): Promise<void> {
    if (this.subscriptions.has(subject)) return;
    const sink = this.sink;
    const sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err === null) sink.deliver(msg.subject, decoder.decode(msg.data));
      },
    });
    this.subscriptions.set(subject, sub);
    // A round trip: once the server answers, it has registered the subscription.
    await this.nc.flush();
  }

  unsubscribe(subject: string): void {
    const sub = this.subscriptions.get(subject);
    if (sub === undefined) return;
    this.subscriptions.delete(subject);
    sub.unsubscribe();
  }

  private bucket(ttlMs: number): Promise<KV> {
    const ttl = Math.max(1000, Math.round(ttlMs));
    let kv = this.buckets.get(ttl);
    if (kv === undefined) {
      kv = this.nc.jetstream().views.kv(`switchboard_leases_${ttl}`, { ttl, history: 1 });
      kv.catch(() => this.buckets.delete(ttl));
      this.buckets.set(ttl, kv);
    }
    return kv;
  }

  async acquire(key: string, owner: string, ttlMs: number): Promise<LeaseHolder | null> {
    const kv = await this.bucket(ttlMs);
    const entry = await kv.get(key);
    if (entry !== null && entry.operation === 'PUT') {
      const holder = decoder.decode(entry.value);
      if (holder !== owner) return { owner: holder, token: entry.revision };
      // Renew: rewriting the value restarts its max-age; the revision check makes it ours only if nobody took it since.
      const revision = await kv.update(key, entry.value, entry.revision);
      return { owner, token: revision };
    }
    try {
      const revision = await kv.create(key, encoder.encode(owner));
      return { owner, token: revision };
    } catch (err) {
      // Somebody else created it between our get and create: report them.
      const now = await kv.get(key);
      if (now !== null && now.operation === 'PUT') return { owner: decoder.decode(now.value), token: now.revision };
      throw new Error(`lease ${key}: ${errorMessage(err)}`);
    }
  }

  async release(key: string, owner: string): Promise<void> {
    for (const kvPromise of this.buckets.values()) {
      const kv = await kvPromise;
      const entry = await kv.get(key);
      if (entry !== null && entry.operation === 'PUT' && decoder.decode(entry.value) === owner) {
        await kv.delete(key, { previousSeq: entry.revision }).catch(() => undefined);
      }
    }
  }

  async close(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.close();
  }
}
