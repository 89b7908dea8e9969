/** Where a benchmark points and how it signs: plain data, so it can be sent to worker processes. */
export interface TargetSpec {
  /** WebSocket base URL, e.g. `ws://127.0.0.1:6001`. */
  url: string;
  /** HTTP base URL of the publish API and `/metrics`; derived from `url` when absent. */
  httpUrl?: string;
  appId: string;
  key: string;
  secret: string;
}

export type DriverName = 'pusher' | 'socketio' | 'ws-raw';
export const DRIVER_NAMES: readonly DriverName[] = ['pusher', 'socketio', 'ws-raw'];

/** What a client tells its owner. Bound once per client; called for every frame. */
export interface ClientHandlers {
  /** A data frame; return true when it carried a benchmark marker and was consumed. */
  onFrame(frame: Buffer | string): boolean;
  /** A named event that was not a benchmark message (presence member_added, etc.). */
  onEvent?(event: string, channel: string | undefined): void;
  /** The connection closed after it was established; `code` is a close code or a reason name. */
  onClose(code: string): void;
}

export interface ConnectOptions {
  timeoutMs: number;
  localAddress?: string;
}

export interface SubscribeOptions {
  /** Presence identity; required for presence channels. */
  userId?: string;
  timeoutMs: number;
}

/** One connected benchmark client. */
export interface BenchClient {
  subscribe(channel: string, options: SubscribeOptions): Promise<void>;
  /** Send a message to the other members of a channel (Pusher client event, or the reference `client` op). */
  sendClientEvent(channel: string, payload: string): void;
  close(): void;
}

/**
 * Sends server-side publishes (Pusher HTTP API, or the reference servers' `pub`) over `connections`
 * connections. Publishes on one connection reach the server in the order they were made; across
 * connections there is no order, so the bench numbers its messages per connection.
 */
export interface Publisher {
  readonly connections: number;
  /** The connection the next publish should go on (the least busy one). */
  nextConnection(): number;
  publish(channel: string, payload: string, connection: number): Promise<void>;
  close(): Promise<void>;
}

/** A protocol the benchmark can speak. */
export interface Driver {
  readonly name: DriverName;
  /** Presence channels with member events. */
  readonly presence: boolean;
  /** The channel name a scenario should use for a kind of channel. */
  channelName(kind: 'public' | 'private' | 'presence', name: string): string;
  connect(handlers: ClientHandlers, options: ConnectOptions): Promise<BenchClient>;
  createPublisher(): Promise<Publisher>;
}

/** A connection attempt that failed; `code` groups failures in the results (close code or errno). */
export class ConnectError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConnectError';
  }
}

/** `ws://h:p/...` → `http://h:p`, `wss:` → `https:`. */
export function httpBaseOf(target: TargetSpec): string {
  if (target.httpUrl !== undefined) return target.httpUrl.replace(/\/+$/, '');
  const url = new URL(target.url);
  const protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  return `${protocol}//${url.host}`;
}

/** Reject after `ms` with a ConnectError of `code`, unless `promise` settles first. */
export function withDeadline<T>(promise: Promise<T>, ms: number, code: string, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ConnectError(code, message)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** The errno-like code of a socket error (ECONNREFUSED, ...), for grouping. */
export function errorCode(err: unknown): string {
  if (err instanceof ConnectError) return err.code;
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return err instanceof Error ? err.message.slice(0, 60) : 'error';
}
