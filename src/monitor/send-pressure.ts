import type { Peer } from '../transport/peer.js';

/**
 * Send-buffer pressure read from the peers themselves: the bytes each
 * socket holds unsent (`socket.writableLength`, what the transport's
 * slow-consumer limit also looks at). This is the monitor's one reader of
 * transport state, kept in one place so the transport can change under it.
 */
export function queuedSendBytes(peers: Iterable<Peer>): number {
  let total = 0;
  for (const peer of peers) total += peer.socket.writableLength;
  return total;
}

/**
 * Up to `count` open peers with the most unsent bytes, most first; peers
 * with nothing queued are not slow and are never picked.
 */
export function slowestConsumers<P extends Peer>(peers: Iterable<P>, count: number): P[] {
  if (count <= 0) return [];
  const chosen: Array<{ peer: P; bytes: number }> = [];
  for (const peer of peers) {
    if (!peer.open) continue;
    const bytes = peer.socket.writableLength;
    if (bytes === 0) continue;
    if (chosen.length < count) {
      chosen.push({ peer, bytes });
      if (chosen.length === count) chosen.sort((a, b) => b.bytes - a.bytes);
      continue;
    }
    if (bytes <= chosen[count - 1]!.bytes) continue;
    // Keep the list sorted, most bytes first: insert and drop the smallest.
    let i = count - 1;
    while (i > 0 && chosen[i - 1]!.bytes < bytes) {
      chosen[i] = chosen[i - 1]!;
      i--;
    }
    chosen[i] = { peer, bytes };
  }
  chosen.sort((a, b) => b.bytes - a.bytes);
  return chosen.map((c) => c.peer);
}
