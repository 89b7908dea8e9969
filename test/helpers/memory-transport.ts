import type { IncomingMessage } from 'node:http';
import type { Endpoint, NodeTransport, TransportHooks, TransportStats } from '../../src/transport/types.js';

/** What one in-memory socket got: messages (parsed JSON) and, once closed, its close code. */
export interface MemorySocket {
  readonly messages: Array<{ event: string; channel?: string; data?: unknown }>;
  /** JSON strings exactly as the core handed them over. */
  readonly raw: string[];
  closeCode: number | undefined;
  /** The JSON a refused socket got before its close. */
  refusedWith?: string;
}

/**
 * A second implementation of the core's transport interface, with no
 * sockets at all: the core cannot tell it from the `ws` one, which is the
 * point. Messages land in per-socket inboxes synchronously; a close reaches
 * the core's `closed` hook on the next microtask, as a socket's close event
 * would come later than the close call.
 */
export class MemoryTransport implements NodeTransport {
  private hooks: TransportHooks | null = null;
  /** One entry per broadcast call: the JSON and how many sockets it was queued for. */
  readonly broadcasts: Array<{ json: string; count: number }> = [];
  private readonly sockets = new WeakMap<object, MemorySocket>();

  attach(hooks: TransportHooks): void {
    this.hooks = hooks;
  }

  /** Open a socket at `path` (as a client's URL): the core admits it or refuses it. */
  connect(path: string, headers: Record<string, string> = {}): { link: object; socket: MemorySocket; endpoint: Endpoint | null } {
    const link = {};
    const socket: MemorySocket = { messages: [], raw: [], closeCode: undefined };
    this.sockets.set(link, socket);
    const admitted = this.requireHooks().admit(link, { url: path, headers } as unknown as IncomingMessage);
    // The static store admits synchronously (only a database store's cache miss waits).
    if (admitted instanceof Promise) throw new Error('memory transport: asynchronous admission is not supported');
    const endpoint = admitted;
    return { link, socket, endpoint };
  }

  /** A client message arriving on an admitted socket. */
  receive(endpoint: Endpoint, message: unknown, isBinary = false): void {
    const data = Buffer.from(typeof message === 'string' ? message : JSON.stringify(message));
    this.requireHooks().message(endpoint, data, isBinary);
  }

  /** The client went away by itself. */
  hangUp(endpoint: Endpoint, code = 1006): void {
    this.finish(endpoint, code);
  }

  socketOf(endpoint: Endpoint): MemorySocket {
    return this.sockets.get(endpoint.link)!;
  }

  send(to: Endpoint, json: string): void {
    if (!to.open) return;
    this.deliver(to, json);
  }

  broadcast(json: string, targets: Iterable<Endpoint>, excludeId?: string): number {
    let count = 0;
    for (const endpoint of targets) {
      if (!endpoint.open || endpoint.id === excludeId) continue;
      this.deliver(endpoint, json);
      count++;
    }
    this.broadcasts.push({ json, count });
    return count;
  }

  close(endpoint: Endpoint, code: number): void {
    if (!endpoint.open) return;
    endpoint.open = false;
    queueMicrotask(() => this.finish(endpoint, code));
  }

  terminate(endpoint: Endpoint): void {
    endpoint.open = false;
    queueMicrotask(() => this.finish(endpoint, 1006));
  }

  refuse(link: object, json: string, code: number): void {
    const socket = this.sockets.get(link)!;
    socket.refusedWith = json;
    socket.closeCode = code;
  }

  notePublished(): void {}

  stats(): TransportStats {
    return { bytesQueued: 0, slowConsumersClosed: 0 };
  }

  queuedBytes(): number {
    return 0;
  }

  private deliver(endpoint: Endpoint, json: string): void {
    const socket = this.sockets.get(endpoint.link)!;
    socket.raw.push(json);
    socket.messages.push(JSON.parse(json));
  }

  private finish(endpoint: Endpoint, code: number): void {
    const socket = this.sockets.get(endpoint.link)!;
    if (socket.closeCode !== undefined) return;
    socket.closeCode = code;
    endpoint.open = false;
    this.requireHooks().closed(endpoint, code);
  }

  private requireHooks(): TransportHooks {
    if (this.hooks === null) throw new Error('MemoryTransport: attach the core first');
    return this.hooks;
  }
}
