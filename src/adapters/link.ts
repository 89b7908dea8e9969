import { Backoff } from './backoff.js';
import { RateMeter } from '../util/rate-meter.js';
import { MAX_BATCH_UNITS, decodeBatch, encodeBatch } from './batch.js';
import type { ClusterTransport, LeaseHolder, LinkState, LinkStateChange, SubjectHandler } from './types.js';

/** One live connection to a broker, as an adapter opens it. Lost for good when `onLost` fires. */
export interface BrokerSession {
  /** Write a batch of (subject, payload) pairs as one write where the client allows it. */
  publishBatch(batch: ReadonlyArray<readonly [string, string]>): void;
  subscribe(subject: string): Promise<void>;
  unsubscribe(subject: string): void;
  acquire(key: string, owner: string, ttlMs: number): Promise<LeaseHolder | null>;
  release(key: string, owner: string): Promise<void>;
  close(): Promise<void>;
}

/** What a session reports back to its link. */
export interface SessionSink {
  /** A payload arrived on a subscribed subject (already without the prefix). */
  deliver(subject: string, payload: string): void;
  /** The connection is gone; the link reconnects. Safe to call more than once. */
  lost(reason: string): void;
  /** The broker did not take one message (too large, or its shard failed); the session goes on. */
  refused(subject: string, reason: string): void;
}

export interface BrokerLinkOptions {
  /** Prepended (with a '.') to every subject; lets several deployments share one broker. */
  prefix: string;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /**
   * While this link publishes at least `coalesceMinRate` payloads per second,
   * a batch waits up to `coalesceMs` for more before it is written (fewer
   * broker messages, and fewer wake-ups on every receiving node). Below that
   * rate, or with 0 ms, a batch leaves at the end of its event-loop turn.
   */
  coalesceMs?: number;
  coalesceMinRate?: number;
}

/**
 * The part every adapter shares: the link state machine, reconnect with
 * full-jitter backoff, the set of subjects to resubscribe after a reconnect,
 * and writes coalesced per tick (adaptively for longer under load), several
 * payloads for one subject in one broker message. Subclasses only open sessions.
 */
export abstract class BrokerLink implements ClusterTransport {
  abstract readonly kind: ClusterTransport['kind'];
  private current: LinkState = 'disconnected';
  private readonly listeners: Array<(change: LinkStateChange) => void> = [];
  private readonly refusalListeners: Array<(subject: string, reason: string) => void> = [];
  private session: BrokerSession | null = null;
  private readonly subjects = new Set<string>();
  private handler: SubjectHandler = () => {};
  private readonly backoff: Backoff;
  private retryTimer: NodeJS.Timeout | null = null;
  private firstConnect: { resolve: () => void; promise: Promise<void> } | null = null;
  private outbox: Array<readonly [string, string]> = [];
  private flushScheduled = false;
  private readonly prefix: string;
  private readonly coalesceMs: number;
  private readonly coalesceMinRate: number;
  private readonly publishRate = new RateMeter();
  /** Bumped on every session, so a stale session's callbacks are ignored. */
  private generation = 0;

  constructor(options: BrokerLinkOptions) {
    this.prefix = options.prefix === '' ? '' : `${options.prefix}.`;
    this.backoff = new Backoff(options.backoffBaseMs ?? 100, options.backoffCapMs ?? 2000);
    this.coalesceMs = options.coalesceMs ?? 0;
    this.coalesceMinRate = options.coalesceMinRate ?? 0;
  }

  /** Open one connection. Rejects when the broker cannot be reached. */
  protected abstract openSession(sink: SessionSink): Promise<BrokerSession>;

  get state(): LinkState {
    return this.current;
  }

  onStateChange(listener: (change: LinkStateChange) => void): void {
    this.listeners.push(listener);
  }

  onRefused(listener: (subject: string, reason: string) => void): void {
    this.refusalListeners.push(listener);
  }

  setHandler(handler: SubjectHandler): void {
    this.handler = handler;
  }

  connect(): Promise<void> {
    if (this.current === 'closed') return Promise.reject(new Error('link closed'));
    if (this.firstConnect === null) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.firstConnect = { resolve, promise };
      if (this.current === 'connected') resolve();
      else void this.attempt();
    }
    return this.firstConnect.promise;
  }

  async close(): Promise<void> {
    if (this.current === 'closed') return;
    this.flush();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.generation++;
    const session = this.session;
    this.session = null;
    this.setState('closed', 'close');
    if (session !== null) await session.close().catch(() => undefined);
  }

  publish(subject: string, payload: string): boolean {
    if (this.session === null) return false;
    this.outbox.push([this.prefix + subject, payload]);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.publishRate.scheduleFlush(this.flush, this.coalesceMs, this.coalesceMinRate);
    }
    return true;
  }

  async subscribe(subject: string): Promise<void> {
    this.subjects.add(subject);
    const session = this.session;
    if (session === null) return;
    // A failure here means the link is going down; the reconnect resubscribes.
    await session.subscribe(this.prefix + subject).catch(() => undefined);
  }

  unsubscribe(subject: string): void {
    if (!this.subjects.delete(subject)) return;
    this.session?.unsubscribe(this.prefix + subject);
  }

  async acquire(key: string, owner: string, ttlMs: number): Promise<LeaseHolder | null> {
    const session = this.session;
    if (session === null) throw new Error('link down');
    return session.acquire(this.prefix + key, owner, ttlMs);
  }

  async release(key: string, owner: string): Promise<void> {
    await this.session?.release(this.prefix + key, owner);
  }

  /** Subjects currently wanted (for tests and diagnostics). */
  subscribedSubjects(): ReadonlySet<string> {
    return this.subjects;
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const batch = this.outbox;
    if (batch.length === 0) return;
    this.outbox = [];
    this.publishRate.record(batch.length);
    const session = this.session;
    if (session === null) return;
    try {
      session.publishBatch(batch.length === 1 ? batch : groupBySubject(batch));
    } catch (err) {
      session === this.session && this.onLost(this.generation, errorMessage(err));
    }
  };

  private async attempt(): Promise<void> {
    this.retryTimer = null;
    if (this.current === 'closed') return;
    const generation = ++this.generation;
    this.setState('connecting', this.current === 'disconnected' && this.session === null ? 'retry' : 'connect');
    const sink: SessionSink = {
      deliver: (subject, payload) => {
        if (generation !== this.generation) return;
        this.dispatch(subject, payload);
      },
      lost: (reason) => this.onLost(generation, reason),
      refused: (subject, reason) => {
        const local = this.withoutPrefix(subject);
        if (local !== null) for (const listener of this.refusalListeners) listener(local, reason);
      },
    };
    let session: BrokerSession;
    try {
      session = await this.openSession(sink);
    } catch (err) {
      this.connectFailed(generation, err);
      return;
    }
    if (generation !== this.generation) {
      // Closed (or superseded) while connecting.
      await session.close().catch(() => undefined);
      return;
    }
    try {
      // Resubscribe everything still wanted before announcing the link: a
      // listener that publishes on 'connected' then gets the answers too.
      await Promise.all([...this.subjects].map((s) => session.subscribe(this.prefix + s)));
    } catch (err) {
      await session.close().catch(() => undefined);
      this.connectFailed(generation, err);
      return;
    }
    if (generation !== this.generation) {
      await session.close().catch(() => undefined);
      return;
    }
    this.session = session;
    this.backoff.reset();
    this.setState('connected', 'connect');
    this.firstConnect?.resolve();
  }

  /** A connection attempt failed: back off and try again, unless a newer attempt or a close superseded it. */
  private connectFailed(generation: number, err: unknown): void {
    if (generation !== this.generation) return;
    this.setState('disconnected', errorMessage(err));
    this.scheduleRetry();
  }

  private onLost(generation: number, reason: string): void {
    if (generation !== this.generation || this.current === 'closed') return;
    this.generation++;
    const session = this.session;
    this.session = null;
    this.outbox = [];
    if (session !== null) void session.close().catch(() => undefined);
    this.setState('disconnected', reason);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== null || this.current === 'closed') return;
    this.retryTimer = setTimeout(() => void this.attempt(), this.backoff.next());
    this.retryTimer.unref();
  }

  /** A broker subject as the cluster layer names it; null when it is not this deployment's. */
  private withoutPrefix(subject: string): string | null {
    if (this.prefix === '') return subject;
    return subject.startsWith(this.prefix) ? subject.slice(this.prefix.length) : null;
  }

  private dispatch(subject: string, message: string): void {
    const local = this.withoutPrefix(subject);
    if (local === null) return;
    // A damaged batch (never seen from our own nodes) loses only its tail.
    decodeBatch(message, (payload) => {
      try {
        this.handler(local, payload);
      } catch {
        // The cluster layer contains its own faults; a throw here must not kill the client library's loop.
      }
    });
  }

  private setState(state: LinkState, reason: string): void {
    const previous = this.current;
    if (previous === state) return;
    this.current = state;
    const change: LinkStateChange = { state, previous, reason };
    for (const listener of this.listeners) listener(change);
  }
}

/**
 * One broker message per subject (in the order subjects first appear; each
 * subject's payloads keep their order), split where a batch would grow past
 * MAX_BATCH_UNITS.
 */
function groupBySubject(batch: ReadonlyArray<readonly [string, string]>): Array<readonly [string, string]> {
  const groups = new Map<string, { payloads: string[]; units: number }[]>();
  for (const [subject, payload] of batch) {
    let list = groups.get(subject);
    if (list === undefined) groups.set(subject, (list = []));
    const open = list[list.length - 1];
    if (open !== undefined && open.units + payload.length <= MAX_BATCH_UNITS) {
      open.payloads.push(payload);
      open.units += payload.length;
    } else {
      list.push({ payloads: [payload], units: payload.length });
    }
  }
  const out: Array<readonly [string, string]> = [];
  for (const [subject, list] of groups) for (const group of list) out.push([subject, encodeBatch(group.payloads)]);
  return out;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
