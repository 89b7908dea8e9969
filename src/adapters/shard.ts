/**
 * Stable placement of a subject on one of `count` shards: FNV-1a over the
 * subject's UTF-16 code units. Every node computes the same shard for the
 * same subject, whatever order the shards' URLs were started in.
 */
export function shardOf(subject: string, count: number): number {
  if (count <= 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < subject.length; i++) {
    hash ^= subject.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % count;
}
