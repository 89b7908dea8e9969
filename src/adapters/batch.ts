/**
 * Several payloads for one subject travel as one broker message: under load a
 * node publishes many events per tick to the same channel, and one message
 * instead of many saves a command on the sending node, a fan-out in the
 * broker, and a read and a parse on every receiving node.
 *
 * Envelope: the tag, then for each payload its length in UTF-16 code units,
 * a newline, and the payload itself. Lengths count code units, not bytes, so
 * they survive any transport that carries text (a lone surrogate replaced by
 * U+FFFD keeps its length).
 */
const BATCH_TAG = '\u0000B\n';

/** Above this size (in code units) a batch is closed and the next one started: NATS refuses messages over 1 MB by default. */
export const MAX_BATCH_UNITS = 64 * 1024;

/** One payload goes as itself, unless it could be mistaken for a batch. */
export function encodeBatch(payloads: readonly string[]): string {
  if (payloads.length === 1 && !payloads[0]!.startsWith(BATCH_TAG)) return payloads[0]!;
  let out = BATCH_TAG;
  for (const payload of payloads) out += `${payload.length}\n${payload}`;
  return out;
}

const LENGTH = /^\d{1,9}$/;

/**
 * Call `each` for every payload in `message` (a batch or a single payload).
 * A malformed batch delivers what precedes the damage and returns false.
 */
export function decodeBatch(message: string, each: (payload: string) => void): boolean {
  if (!message.startsWith(BATCH_TAG)) {
    each(message);
    return true;
  }
  let at = BATCH_TAG.length;
  while (at < message.length) {
    const newline = message.indexOf('\n', at);
    const digits = newline === -1 ? '' : message.slice(at, newline);
    if (!LENGTH.test(digits)) return false;
    const end = newline + 1 + Number(digits);
    if (end > message.length) return false;
    each(message.slice(newline + 1, end));
    at = end;
  }
  return true;
}
