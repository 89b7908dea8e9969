/**
 * The Redis side of channel history. Each channel has a meta hash (`e`:
 * epoch, `o`: last offset) and a stream whose entry ids are `offset-0`.
 * Both keys share a hash tag, so the script touches one slot.
 */

/**
 * Assign the next offset, keep the event, publish it: one script, so that
 * the offsets of a channel never gap or repeat whichever node publishes, and
 * every node receives the channel's events in offset order.
 *
 * KEYS: 1 stream, 2 meta.
 * ARGV: 1 pub/sub channel, 2 the frame JSON without its closing brace,
 * 3 the payload's head (app, channel, excluded socket, each + "\n"),
 * 4 size, 5 TTL ms, 6 meta TTL ms, 7 the epoch to start if there is none,
 * 8 now (ms).
 * Returns the offset.
 */
export const APPEND_AND_PUBLISH = `
local epoch = redis.call('HGET', KEYS[2], 'e')
if not epoch then
  epoch = ARGV[7]
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'e', epoch, 'o', 0)
end
local offset = redis.call('HINCRBY', KEYS[2], 'o', 1)
local json = ARGV[2] .. ',"offset":' .. offset .. ',"epoch":"' .. epoch .. '"}'
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[4], offset .. '-0', 'j', json, 't', ARGV[8])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
redis.call('PUBLISH', ARGV[1], offset .. '\\n' .. ARGV[3] .. json)
return offset
`;

/**
 * The position and a range, at one instant. A channel without meta gets an
 * epoch now, so a subscriber's position is one it can recover from later.
 *
 * KEYS: 1 stream, 2 meta.
 * ARGV: 1 the epoch to start if there is none, 2 meta TTL ms,
 * 3 first id (forward) or last id (backward), 4 count (0: none),
 * 5 'f' forward or 'b' backward.
 * Returns {epoch, offset, entries}.
 */
export const READ = `
local epoch = redis.call('HGET', KEYS[2], 'e')
if not epoch then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'e', ARGV[1], 'o', 0)
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return {ARGV[1], 0, {}}
end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local offset = tonumber(redis.call('HGET', KEYS[2], 'o'))
local entries = {}
if tonumber(ARGV[4]) > 0 then
  if ARGV[5] == 'f' then
    entries = redis.call('XRANGE', KEYS[1], ARGV[3], '+', 'COUNT', ARGV[4])
  else
    entries = redis.call('XREVRANGE', KEYS[1], '+', ARGV[3], 'COUNT', ARGV[4])
  end
end
return {epoch, offset, entries}
`;
