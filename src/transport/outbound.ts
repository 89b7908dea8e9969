import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { countLimitTrip, metrics } from '../metrics/index.js';
import { CloseCode } from '../protocol/codes.js';
import { ErrorCode, SwitchboardError } from '../protocol/errors.js';
import type { Logger } from '../util/logger.js';
import { RateMeter } from '../util/rate-meter.js';
import { frameCompressed, MIN_WINDOW_BITS, payloadOf } from './deflate.js';
import { frameText } from './frame.js';
import type { Endpoint, NodeTransport, TransportStats } from './types.js';
import { rawSocketOf, socketOf } from './ws-internals.js';

/** The fan-out settings of one node (from its config). */
export interface FanoutOptions {
  readonly maxSendBufferBytes: number;
  /** How long queued frames may wait for more before they are written; 0 = end of the event-loop turn. */
  readonly writeCoalesceMs: number;
  /** Deliveries per second (over the last second) from which batches wait `writeCoalesceMs`. */
  readonly writeCoalesceMinRate: number;
  /** Whether any socket of this node may get compressed frames (node or app setting). */
  readonly compression: boolean;
  /** Payloads shorter than this (UTF-8 bytes) always go plain. */
  readonly compressionMinBytes: number;
  /** Payload bytes this node may compress per second; over it frames go plain. */
  readonly compressionMaxBytesPerSecond: number;
  readonly compressionLevel: number;
}

/** Set on a WebSocket that negotiated permessage-deflate and may get compressed frames: its server window bits. */
const kDeflateBits = Symbol('switchboard.deflateBits');
interface TaggedWebSocket extends WebSocket {
  [kDeflateBits]?: number;
}

type Queued = Buffer | Buffer[] | null;

const SLOW_CONSUMER_GRACE_MS = 2000;

/**
 * One node's byte fan-out over `ws` sockets. Frames are queued per endpoint
 * and written once per event-loop turn (or after `writeCoalesceMs` under
 * load): an endpoint that receives several frames meanwhile gets them in one
 * corked write. Each broadcast is framed once, and compressed at most once
 * per negotiated window size, and the same Buffer goes to every subscriber.
 * Everything here is per node: queue, rate meter, counters, logger.
 */
export class WsFanout implements NodeTransport {
  private dirty: Endpoint[] = [];
  private spare: Endpoint[] = [];
  private flushScheduled = false;
  private readonly flushNow = (): void => this.flush();
  /** Deliveries per second, for adaptive coalescing. */
  private readonly deliveryRate = new RateMeter();
  // Counted locally per turn and handed to prom-client once per flush.
  private pendingDeliveries = 0;
  private pendingBytes = 0;
  private pendingPublishTimes: number[] = [];
  /** Sockets that had unsent bytes after their last write (for stats()). */
  private readonly backlogged = new Set<Socket>();
  private slowConsumersClosed = 0;
  // Compression budget: payload bytes compressed in the current one-second window.
  private compressWindowStart = 0;
  private compressedThisWindow = 0;

  constructor(
    private readonly options: FanoutOptions,
    private readonly log: Logger,
  ) {}

  /**
   * Called once per admitted socket: if it negotiated permessage-deflate and
   * its app allows compression, remember its server window size.
   */
  /** Whether sockets are offered permessage-deflate at all. */
  get compressionOffered(): boolean {
    return this.options.compression;
  }

  bind(endpoint: Endpoint, serverWindowBits: number | null): void {
    if (!this.options.compression || !endpoint.compressible || serverWindowBits === null || serverWindowBits < MIN_WINDOW_BITS) return;
    (endpoint.link as TaggedWebSocket)[kDeflateBits] = serverWindowBits;
  }

  send(to: Endpoint, json: string): void {
    if (!to.open) return;
    let frame = frameText(json);
    if (this.options.compression) {
      const bits = (to.link as TaggedWebSocket)[kDeflateBits];
      if (bits !== undefined && frame.length >= this.options.compressionMinBytes) frame = this.compress(frame, bits) ?? frame;
    }
    this.pendingDeliveries++;
    this.pendingBytes += frame.length;
    this.enqueue(to, frame);
  }

  broadcast(json: string, targets: Iterable<Endpoint>, excludeId?: string): number {
    const frame = frameText(json);
    if (this.options.compression && frame.length >= this.options.compressionMinBytes) return this.broadcastCompressible(frame, targets, excludeId);
    let count = 0;
    for (const endpoint of targets) {
      if (!endpoint.open || endpoint.id === excludeId) continue;
      this.enqueue(endpoint, frame);
      count++;
    }
    this.pendingDeliveries += count;
    this.pendingBytes += count * frame.length;
    return count;
  }

  /** A broadcast big enough to compress: one compressed frame per window size in use, made when first needed. */
  private broadcastCompressible(plain: Buffer, targets: Iterable<Endpoint>, excludeId: string | undefined): number {
    // Index = server window bits (9..15); null = compression refused (over the cap).
    const compressed: Array<Buffer | null | undefined> = [];
    let count = 0;
    let bytes = 0;
    for (const endpoint of targets) {
      if (!endpoint.open || endpoint.id === excludeId) continue;
      const bits = (endpoint.link as TaggedWebSocket)[kDeflateBits];
      let frame = plain;
      if (bits !== undefined) {
        let variant = compressed[bits];
        if (variant === undefined) compressed[bits] = variant = this.compress(plain, bits);
        if (variant !== null) frame = variant;
      }
      this.enqueue(endpoint, frame);
      count++;
      bytes += frame.length;
    }
    this.pendingDeliveries += count;
    this.pendingBytes += bytes;
    return count;
  }

  /** The compressed twin of a plain frame, or null when this second's compression budget is spent. */
  private compress(plain: Buffer, windowBits: number): Buffer | null {
    const payload = payloadOf(plain);
    const now = Date.now();
    if (now - this.compressWindowStart >= 1000) {
      this.compressWindowStart = now;
      this.compressedThisWindow = 0;
    }
    if (this.compressedThisWindow + payload.length > this.options.compressionMaxBytesPerSecond) {
      countLimitTrip('compressionMaxBytesPerSecond');
      return null;
    }
    this.compressedThisWindow += payload.length;
    metrics.compressions.inc();
    const frame = frameCompressed(payload, windowBits, this.options.compressionLevel);
    // A payload that does not shrink (already compressed data) goes plain.
    return frame.length < plain.length ? frame : null;
  }

  notePublished(startedAt: number): void {
    this.pendingPublishTimes.push(startedAt);
  }

  close(endpoint: Endpoint, code: number, reason: string): void {
    if (!endpoint.open) return;
    this.writeQueued(endpoint);
    endpoint.open = false;
    // A close reason is at most 123 bytes (RFC 6455 §5.5).
    (endpoint.link as WebSocket).close(code, reason.length > 120 ? reason.slice(0, 120) : reason);
  }

  queuedBytes(endpoint: Endpoint): number {
    const socket = rawSocketOf(endpoint.link as WebSocket);
    return socket.destroyed ? 0 : socket.writableLength;
  }

  terminate(endpoint: Endpoint): void {
    endpoint.open = false;
    endpoint.out = null;
    (endpoint.link as WebSocket).terminate();
  }

  linkOpen(link: object): boolean {
    return (link as WebSocket).readyState === 1;
  }

  refuse(link: object, json: string, code: number, reason: string): void {
    const ws = link as WebSocket;
    // Written raw, as every frame of ours: ws's own send would compress it for a deflate socket.
    const socket = rawSocketOf(ws);
    if (socket.writable) socket.write(frameText(json));
    ws.close(code, reason.slice(0, 120));
  }

  stats(): TransportStats {
    let bytesQueued = 0;
    for (const socket of this.backlogged) {
      const length = socket.destroyed ? 0 : socket.writableLength;
      if (length === 0) this.backlogged.delete(socket);
      bytesQueued += length;
    }
    return { bytesQueued, slowConsumersClosed: this.slowConsumersClosed };
  }

  private enqueue(endpoint: Endpoint, frame: Buffer): void {
    const out = endpoint.out as Queued;
    if (out === null) {
      endpoint.out = frame;
      this.dirty.push(endpoint);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // Batches wait only while the node is busy fanning out, where merging
        // writes saves CPU; at light load a frame leaves at the end of its turn.
        this.deliveryRate.scheduleFlush(this.flushNow, this.options.writeCoalesceMs, this.options.writeCoalesceMinRate);
      }
    } else if (Array.isArray(out)) {
      out.push(frame);
    } else {
      endpoint.out = [out, frame];
    }
  }

  /** Write what is queued for one endpoint; returns its socket if anything was written. */
  private writeQueued(endpoint: Endpoint): Socket | null {
    const out = endpoint.out as Queued;
    endpoint.out = null;
    if (out === null || !endpoint.open) return null;
    const socket = socketOf(endpoint.link as WebSocket);
    if (!socket.writable) return null;
    if (Array.isArray(out)) {
      socket.cork();
      for (let i = 0; i < out.length; i++) socket.write(out[i]!);
      socket.uncork();
    } else {
      socket.write(out);
    }
    return socket;
  }

  /**
   * A socket whose unsent bytes passed the limit: stop queueing for it, ask it
   * to reconnect (4200), and cut it if the close frame cannot get through
   * (it sits behind megabytes the client is not reading).
   */
  private dropSlowConsumer(endpoint: Endpoint): void {
    countLimitTrip('maxSendBufferBytes');
    this.slowConsumersClosed++;
    const error = new SwitchboardError(ErrorCode.SlowConsumer);
    this.log.info({ socketId: endpoint.id }, 'slow consumer closed');
    this.close(endpoint, error.closeCode ?? CloseCode.Reconnect, error.message);
    setTimeout(terminateWebSocket, SLOW_CONSUMER_GRACE_MS, endpoint.link as WebSocket).unref();
  }

  private flush(): void {
    this.flushScheduled = false;
    const list = this.dirty;
    this.dirty = this.spare;
    let writes = 0;
    const limit = this.options.maxSendBufferBytes;
    for (let i = 0; i < list.length; i++) {
      const endpoint = list[i]!;
      const socket = this.writeQueued(endpoint);
      if (socket === null) continue;
      writes++;
      const buffered = socket.writableLength;
      if (buffered > 0) {
        this.backlogged.add(socket);
        if (buffered > limit) this.dropSlowConsumer(endpoint);
      }
    }
    list.length = 0;
    this.spare = list;
    metrics.socketWrites.inc(writes);
    this.deliveryRate.record(this.pendingDeliveries);
    if (this.pendingDeliveries > 0) {
      metrics.messagesOut.inc(this.pendingDeliveries);
      metrics.bytesOut.inc(this.pendingBytes);
      this.pendingDeliveries = 0;
      this.pendingBytes = 0;
    }
    if (this.pendingPublishTimes.length > 0) {
      const now = performance.now();
      for (const t of this.pendingPublishTimes) metrics.publishToWrite.observe((now - t) / 1000);
      this.pendingPublishTimes = [];
    }
  }
}

function terminateWebSocket(ws: WebSocket): void {
  ws.terminate();
}
