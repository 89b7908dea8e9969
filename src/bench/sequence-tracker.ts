/**
 * Per-stream delivery accounting for one receiver. A stream is what one connection of one publisher
 * sent, as seen on one channel by one subscriber; its sequence numbers rise in the order the
 * connection sent them, so a repeat is a duplicate and a number below the highest seen is out of
 * order. Order is counted per connection because that is the only order a server is given: publishes
 * racing over several keep-alive HTTP sockets may reach it in any order, and a correct server then
 * delivers them in the order it received them. Loss is counted by the caller from the
 * number of distinct deliveries against the number expected, since a publisher that spreads its
 * messages over channels leaves gaps in every single channel's sequence.
 */
export class StreamTracker {
  private seen = new Uint8Array(64);
  private highest = -1;
  unique = 0;
  duplicates = 0;
  outOfOrder = 0;

  /** Account one delivery; returns true when it is the first copy of this sequence number. */
  record(seq: number): boolean {
    if (seq >= this.seen.length * 8) this.grow(seq);
    const byte = seq >>> 3;
    const bit = 1 << (seq & 7);
    const current = this.seen[byte] ?? 0;
    if ((current & bit) !== 0) {
      this.duplicates++;
      return false;
    }
    this.seen[byte] = current | bit;
    this.unique++;
    if (seq < this.highest) this.outOfOrder++;
    else this.highest = seq;
    return true;
  }

  private grow(seq: number): void {
    let size = this.seen.length;
    while (seq >= size * 8) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.seen);
    this.seen = bigger;
  }
}

/** A publisher's connections are numbered below this (`--max-sockets` is capped to it). */
export const MAX_PUBLISHER_CONNECTIONS = 1024;

/**
 * All streams of one receiver: a client subscribed to one channel (every scenario gives each
 * receiving client exactly one channel), so its streams are keyed by publisher and connection.
 */
export class ReceiverTracker {
  // One number per stream, so a delivery costs one map lookup.
  private readonly streams = new Map<number, StreamTracker>();

  record(publisher: number, connection: number, seq: number): boolean {
    const key = publisher * MAX_PUBLISHER_CONNECTIONS + connection;
    let stream = this.streams.get(key);
    if (stream === undefined) {
      stream = new StreamTracker();
      this.streams.set(key, stream);
    }
    return stream.record(seq);
  }

  /** Out-of-order deliveries over all of this receiver's streams. */
  outOfOrder(): number {
    let total = 0;
    for (const stream of this.streams.values()) total += stream.outOfOrder;
    return total;
  }
}

/** Loss from what was expected and what arrived once; never negative (duplicates are counted apart). */
export function lossOf(expected: number, unique: number): { loss: number; lossPct: number } {
  const loss = Math.max(0, expected - unique);
  return { loss, lossPct: expected === 0 ? 0 : (loss / expected) * 100 };
}
