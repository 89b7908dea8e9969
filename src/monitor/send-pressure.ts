import type { Endpoint, NodeTransport } from '../transport/types.js';

/**
 * Up to `count` open endpoints with the most unsent bytes, most first, as
 * the transport reports them; endpoints with nothing queued are not slow and
 * are never picked.
 */
export function slowestConsumers<E extends Endpoint>(endpoints: Iterable<E>, transport: Pick<NodeTransport, 'queuedBytes'>, count: number): E[] {
  if (count <= 0) return [];
  const chosen: Array<{ endpoint: E; bytes: number }> = [];
  for (const endpoint of endpoints) {
    if (!endpoint.open) continue;
    const bytes = transport.queuedBytes(endpoint);
    if (bytes === 0) continue;
    if (chosen.length < count) {
      chosen.push({ endpoint, bytes });
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
    chosen[i] = { endpoint, bytes };
  }
  chosen.sort((a, b) => b.bytes - a.bytes);
  return chosen.map((c) => c.endpoint);
}
