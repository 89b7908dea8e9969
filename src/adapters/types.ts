/**
 * The adapter contract: adapters move bytes between nodes and keep one lease.
 * They know nothing about channels, presence or requests; the cluster layer
 * (src/cluster) gives meaning to subjects and payloads.
 */

/** Connection state of an adapter's link to its broker. */
export type LinkState = 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface LinkStateChange {
  readonly state: LinkState;
  readonly previous: LinkState;
  /** Why the state changed: 'connect', 'lost', 'retry', 'close', or an error message. */
  readonly reason: string;
}

/** Receives every payload published on a subscribed subject by another node; whether a node gets its own back depends on the broker (Redis: yes, NATS: no), so the cluster layer drops its own. */
export type SubjectHandler = (subject: string, payload: string) => void;

/** Who holds a lease after an acquire attempt. */
export interface LeaseHolder {
  readonly owner: string;
  /** Fencing token: grows every time the lease changes hands, never reused. */
  readonly token: number;
}

/** A key with an owner and an expiry, for leader election. */
export interface LeaseStore {
  /**
   * Take `key` for `owner` if it is free, or extend it if `owner` holds it.
   * Resolves to whoever holds it afterwards (null when the store cannot say).
   */
  acquire(key: string, owner: string, ttlMs: number): Promise<LeaseHolder | null>;
  /** Give the lease up if `owner` holds it. */
  release(key: string, owner: string): Promise<void>;
}

/** What every adapter implements: publish, subscribe, a lease, and a link state. */
export interface ClusterTransport extends LeaseStore {
  readonly kind: 'local' | 'ipc' | 'redis' | 'nats';
  readonly state: LinkState;
  /** Listen to state changes (emitted only on change). */
  onStateChange(listener: (change: LinkStateChange) => void): void;
  /** Listen to payloads the broker did not take (too large, or their shard failed) while the link stayed up. */
  onRefused(listener: (subject: string, reason: string) => void): void;
  /** Connect; resolves on the first successful connection, keeps retrying in the background after. */
  connect(): Promise<void>;
  /** Disconnect for good. */
  close(): Promise<void>;
  /**
   * Queue a payload for `subject`. Writes are coalesced and flushed once per
   * tick. Payloads for one subject arrive in the order they were published;
   * payloads for different subjects may not (they can live on different
   * shards). Returns false when the link is down and the payload was dropped.
   */
  publish(subject: string, payload: string): boolean;
  /**
   * Route payloads on `subject` to the transport's handler. Kept across
   * reconnects. Resolves once the broker has confirmed the subscription (or
   * at once when the link is down: it is made on reconnect).
   */
  subscribe(subject: string): Promise<void>;
  unsubscribe(subject: string): void;
  /** The one handler for every subscribed subject. */
  setHandler(handler: SubjectHandler): void;
}
