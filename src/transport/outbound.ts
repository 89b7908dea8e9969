import { countLimitTrip, metrics } from '../metrics/index.js';
import { WsCloseCode } from '../protocol/codes.js';
import { ErrorCode, SwitchboardError } from '../protocol/errors.js';
import { RateMeter } from '../util/rate-meter.js';
import { frameText } from './frame.js';
import type { Peer } from './peer.js';

/**
 * The byte fan-out. Frames are queued per peer and written once per
 * event-loop turn (or after `writeCoalesceMs`): a peer that receives several
 * frames meanwhile gets them in one (corked, writev) write. This is the one function set a faster socket
 * backend would replace: `send`, `broadcast`, `flushPeer`.
 */

let dirty: Peer[] = [];
let spare: Peer[] = [];
let flushScheduled = false;

/** Deliveries per second, for adaptive coalescing. */
const deliveryRate = new RateMeter();

// Counted locally per turn and handed to prom-client once per flush.
let pendingDeliveries = 0;
let pendingBytes = 0;
let pendingPublishTimes: number[] = [];

function enqueue(peer: Peer, frame: Buffer): void {
  const out = peer.out;
  if (out === null) {
    peer.out = frame;
    dirty.push(peer);
    if (!flushScheduled) {
      flushScheduled = true;
      // One queue per process: the first frame of a batch decides how long the
      // batch may wait (nodes of one process share the setting in practice).
      // Batches wait only while the node is busy fanning out, where merging
      // writes saves CPU; at light load a frame leaves at the end of its turn.
      const context = peer.context;
      deliveryRate.scheduleFlush(flush, context.writeCoalesceMs, context.writeCoalesceMinRate);
    }
  } else if (Array.isArray(out)) {
    out.push(frame);
  } else {
    peer.out = [out, frame];
  }
}

/** Send one ready JSON message to one peer. */
export function send(peer: Peer, json: string): void {
  if (!peer.open) return;
  const frame = frameText(json);
  pendingDeliveries++;
  pendingBytes += frame.length;
  enqueue(peer, frame);
}

/** Send one ready frame (a constant such as pong) to one peer. */
export function sendFrame(peer: Peer, frame: Buffer): void {
  if (!peer.open) return;
  pendingDeliveries++;
  pendingBytes += frame.length;
  enqueue(peer, frame);
}

/**
 * Queue one ready frame for every open peer in `targets` except the one whose
 * id is `excludeId`. Returns how many peers it was queued for.
 */
export function broadcast(frame: Buffer, targets: Iterable<Peer>, excludeId?: string): number {
  let count = 0;
  for (const peer of targets) {
    if (!peer.open || peer.id === excludeId) continue;
    enqueue(peer, frame);
    count++;
  }
  pendingDeliveries += count;
  pendingBytes += count * frame.length;
  return count;
}

/** Record when an event was published (performance.now()), for the publish-to-write histogram. */
export function notePublished(startedAt: number): void {
  pendingPublishTimes.push(startedAt);
}

function writeQueued(peer: Peer): boolean {
  const out = peer.out;
  peer.out = null;
  if (out === null || !peer.open) return false;
  const socket = peer.socket;
  if (!socket.writable) return false;
  if (Array.isArray(out)) {
    socket.cork();
    for (let i = 0; i < out.length; i++) socket.write(out[i]!);
    socket.uncork();
  } else {
    socket.write(out);
  }
  return true;
}

/**
 * Close a peer, after writing what is already queued for it. Nothing more is
 * queued once this is called; the core forgets the peer when its socket closes.
 */
export function closePeer(peer: Peer, code: number, reason: string): void {
  if (!peer.open) return;
  writeQueued(peer);
  peer.open = false;
  // A close reason is at most 123 bytes (RFC 6455 §5.5).
  peer.ws.close(code, reason.length > 120 ? reason.slice(0, 120) : reason);
}

/** Close a peer for one of the catalogue's reasons, with its close code and message. */
export function closePeerFor(peer: Peer, error: SwitchboardError): void {
  closePeer(peer, error.closeCode ?? WsCloseCode.InternalError, error.message);
}

/**
 * A socket whose unsent bytes passed the limit: stop queueing for it, ask it
 * to reconnect (4200), and cut it if the close frame cannot get through
 * (it sits behind megabytes the client is not reading).
 */
function dropSlowConsumer(peer: Peer): void {
  countLimitTrip('maxSendBufferBytes');
  closePeerFor(peer, new SwitchboardError(ErrorCode.SlowConsumer));
  setTimeout(terminateWebSocket, SLOW_CONSUMER_GRACE_MS, peer.ws).unref();
}

const SLOW_CONSUMER_GRACE_MS = 2000;

function terminateWebSocket(ws: Peer['ws']): void {
  ws.terminate();
}

/** Write what is queued for one peer now (before a close frame, for example). */
export function flushPeer(peer: Peer): void {
  writeQueued(peer);
}

function flush(): void {
  flushScheduled = false;
  const list = dirty;
  dirty = spare;
  let writes = 0;
  for (let i = 0; i < list.length; i++) {
    const peer = list[i]!;
    if (!writeQueued(peer)) continue;
    writes++;
    if (peer.socket.writableLength > peer.context.maxSendBufferBytes) dropSlowConsumer(peer);
  }
  list.length = 0;
  spare = list;
  metrics.socketWrites.inc(writes);
  deliveryRate.record(pendingDeliveries);
  if (pendingDeliveries > 0) {
    metrics.messagesOut.inc(pendingDeliveries);
    metrics.bytesOut.inc(pendingBytes);
    pendingDeliveries = 0;
    pendingBytes = 0;
  }
  if (pendingPublishTimes.length > 0) {
    const now = performance.now();
    for (const t of pendingPublishTimes) metrics.publishToWrite.observe((now - t) / 1000);
    pendingPublishTimes = [];
  }
}
