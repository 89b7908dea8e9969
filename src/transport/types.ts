/**
 * The boundary between the core (the Pusher protocol) and whatever carries
 * its frames to sockets. The core hands the transport JSON strings and sets
 * of endpoints; how they become bytes (framing, compression, coalescing) is
 * the transport's alone. `ws-transport.ts` is the production implementation;
 * test/unit/core has an in-memory one.
 */

/**
 * One client socket as the core sees it. The core's Connection implements
 * it; `open`, `link` and `out` belong to the transport (one object per
 * socket: idle memory matters at tens of thousands of sockets).
 */
export interface Endpoint {
  readonly id: string;
  /** False once a close has begun: nothing more is queued. Set by the transport. */
  open: boolean;
  /** The transport's handle for this socket (for `ws`: its WebSocket). */
  readonly link: object;
  /** The transport's per-socket queue slot (frames waiting for this turn's write). */
  out: unknown;
  /** Whether this socket's app lets frames to it go compressed (when the socket negotiated it). */
  readonly compressible: boolean;
}

/** What the core asks of the transport. */
export interface NodeTransport {
  /** Send one JSON message to one endpoint. */
  send(to: Endpoint, json: string): void;
  /**
   * Send one JSON message to every open endpoint of `targets` except the one
   * whose id is `excludeId`: serialized (and compressed) once, the same bytes
   * to all. Returns how many endpoints it was queued for.
   */
  broadcast(json: string, targets: Iterable<Endpoint>, excludeId?: string): number;
  /** Close after what is already queued, with a WebSocket close code and reason. */
  close(endpoint: Endpoint, code: number, reason: string): void;
  /** Cut the socket at once (no close handshake). */
  terminate(endpoint: Endpoint): void;
  /** Refuse a socket the core did not admit: one JSON message, then a close. */
  refuse(link: object, json: string, code: number, reason: string): void;
  /** Whether a socket not admitted yet is still open (admission waited for the app store). */
  linkOpen?(link: object): boolean;
  /** When an event was published (performance.now()), for the publish-to-write histogram. */
  notePublished(startedAt: number): void;
  /** Send-side pressure, for admission and overload decisions. */
  stats(): TransportStats;
  /** Bytes written to this endpoint's socket that the kernel has not taken yet (the monitor sheds the largest first). */
  queuedBytes(endpoint: Endpoint): number;
}

export interface TransportStats {
  /** Bytes written to sockets that the kernel has not taken yet (user-space send buffers). */
  bytesQueued: number;
  /** Sockets closed so far because their unsent bytes passed maxSendBufferBytes. */
  slowConsumersClosed: number;
}

/** What the transport asks of the core. */
export interface TransportHooks<E extends Endpoint = Endpoint> {
  /** A socket opened: return its endpoint, or null after refusing it (`NodeTransport.refuse`). */
  admit(link: object, req: import('node:http').IncomingMessage): E | null | Promise<E | null>;
  /** A message arrived from an admitted endpoint. */
  message(endpoint: E, data: Buffer, isBinary: boolean): void;
  /** The endpoint's socket closed (after a close or terminate, or from the client). */
  closed(endpoint: E, code: number): void;
}
