/**
 * The few platform globals the client uses, typed here so that one source compiles for browsers and
 * for Node without the DOM library: everything is looked up on `globalThis` when it is needed.
 */

/** The part of the WebSocket interface the client uses (browsers' and `ws`'s both have it). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

interface FetchResponse {
  readonly ok: boolean;
  readonly status: number;
  text(): Promise<string>;
}

export type FetchLike = (
  url: string,
  init?: { method?: string; headers?: Record<string, string>; body?: string; credentials?: string; cache?: string },
) => Promise<FetchResponse>;

interface EventSource {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

interface Host {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  fetch?: FetchLike;
  WebSocket?: WebSocketConstructor;
  addEventListener?: EventSource['addEventListener'];
  removeEventListener?: EventSource['removeEventListener'];
  document?: EventSource & { visibilityState?: string };
  navigator?: { onLine?: boolean };
  location?: { protocol?: string };
  performance?: { now(): number };
  reportError?: (error: unknown) => void;
  TextDecoder?: new () => { decode(bytes: Uint8Array): string };
  atob?: (text: string) => string;
  Buffer?: { from(text: string, encoding: string): Uint8Array };
}

export const host = globalThis as unknown as Host;

export type Timer = unknown;

export function setTimer(fn: () => void, ms: number): Timer {
  return host.setTimeout(fn, ms);
}

export function clearTimer(handle: Timer | null): void {
  if (handle !== null && handle !== undefined) host.clearTimeout(handle);
}

/** A monotonic clock where there is one (RTT samples must not jump with the wall clock). */
export function now(): number {
  return host.performance !== undefined ? host.performance.now() : Date.now();
}

/**
 * Report an exception thrown by an application callback without letting it break the client's own
 * bookkeeping: the browser's `reportError` where it exists, otherwise rethrown on a clean stack
 * (in Node that is an uncaught exception, as with a throwing EventEmitter listener).
 */
export function reportCallbackError(error: unknown): void {
  if (typeof host.reportError === 'function') {
    host.reportError(error);
    return;
  }
  host.setTimeout(() => {
    throw error;
  }, 0);
}
