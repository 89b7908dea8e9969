import type { LeaseHolder } from './types.js';

/**
 * The leader lease on Redis, shared by standalone and cluster sessions.
 * Take the lease when free, extend it when ours; answer "owner|token" of
 * whoever holds it. The token comes from a counter that is never reset, so
 * a later holder always has a larger one (fencing).
 */
export const ACQUIRE_LEASE = `
local current = redis.call('GET', KEYS[1])
if current then
  local sep = string.find(current, '|', 1, true)
  if string.sub(current, 1, sep - 1) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
  return current
end
local token = redis.call('INCR', KEYS[2])
local value = ARGV[1] .. '|' .. token
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return value
`;

export const RELEASE_LEASE = `
local current = redis.call('GET', KEYS[1])
if current and string.sub(current, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. '|' then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** The lease script's reply ("owner|token") as a holder; null when it is not one. */
export function parseLeaseReply(reply: unknown): LeaseHolder | null {
  if (typeof reply !== 'string') return null;
  const sep = reply.lastIndexOf('|');
  if (sep === -1) return null;
  return { owner: reply.slice(0, sep), token: Number(reply.slice(sep + 1)) };
}

/** The lease's TTL argument: whole milliseconds, at least one. */
export function leaseTtlArg(ttlMs: number): string {
  return String(Math.max(1, Math.round(ttlMs)));
}
