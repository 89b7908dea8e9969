import { expect, test } from 'vitest';
import { isErrorCode } from '../../../src/protocol/errors.js';
import { parseClientFrame } from '../../../src/protocol/frames.js';
import { pick, seededRandom } from '../../helpers/prng.js';

const SEED = 0x5b0a7d;
const FRAMES = 10_000;

const VALID_FRAMES: unknown[] = [
  { event: 'pusher:ping', data: {} },
  { event: 'pusher:pong', data: {} },
  { event: 'pusher:subscribe', data: { auth: '', channel: 'news' } },
  { event: 'pusher:subscribe', data: { auth: 'key:abc', channel: 'private-chat' } },
  {
    event: 'pusher:subscribe',
    data: { auth: 'key:abc', channel: 'presence-room', channel_data: '{"user_id":"1","user_info":{"n":"A"}}' },
  },
  { event: 'pusher:subscribe', data: '{"channel":"cache-news"}' },
  { event: 'pusher:subscribe', data: { channel: '#server-to-user-42' } },
  { event: 'pusher:unsubscribe', data: { channel: 'private-chat' } },
  { event: 'pusher:signin', data: { auth: 'key:sig', user_data: '{"id":"1","watchlist":["2"]}' } },
  { event: 'client-typing', channel: 'private-chat', data: { who: 'me', n: [1, 2, 3] } },
  { event: 'client-msg', channel: 'presence-room', data: 'hello' },
  { event: 'pusher:other', data: {} },
];

const SPECIAL_VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1e308,
  -1e308,
  2 ** 53 + 1,
  '',
  'x'.repeat(300),
  '\u0000',
  '\ud800',
  [],
  {},
  [[[]]],
  { __proto__: 'x' },
  { constructor: { prototype: {} } },
  'pusher:subscribe',
  'client-x',
  'private-',
  '#server-to-user-',
];

/** Replace one value somewhere in a JSON tree with a value of another type, or nest it deeper. */
function mutateValue(random: () => number, value: unknown, depth = 0): unknown {
  if (depth > 6 || random() < 0.25) {
    const roll = random();
    if (roll < 0.6) return pick(random, SPECIAL_VALUES);
    if (roll < 0.8) return [value];
    let nested: unknown = value;
    for (let i = Math.floor(random() * 500); i > 0; i--) nested = { a: nested };
    return nested;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return [pick(random, SPECIAL_VALUES)];
    const copy = [...value];
    const i = Math.floor(random() * copy.length);
    copy[i] = mutateValue(random, copy[i], depth + 1);
    return copy;
  }
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    const keys = Object.keys(copy);
    const roll = random();
    if (roll < 0.15 && keys.length > 0) delete copy[pick(random, keys)];
    else if (roll < 0.25) copy[pick(random, ['__proto__', 'constructor', 'event', 'data', 'channel', 'auth'])] = pick(random, SPECIAL_VALUES);
    else if (keys.length > 0) {
      const key = pick(random, keys);
      copy[key] = mutateValue(random, copy[key], depth + 1);
    }
    return copy;
  }
  return pick(random, SPECIAL_VALUES);
}

/** Damage the text itself: flip, insert or delete characters, or cut it short. */
function mutateText(random: () => number, text: string): string {
  const roll = random();
  if (roll < 0.3) return text.slice(0, Math.floor(random() * text.length));
  const chars = [...text];
  for (let n = 1 + Math.floor(random() * 4); n > 0; n--) {
    const at = Math.floor(random() * (chars.length + 1));
    const op = random();
    const char = pick(random, ['{', '}', '[', ']', '"', '\\', ':', ',', '0', 'e', 'n', '\u0000', '\ud83d', 'é']);
    if (op < 0.4) chars.splice(at, 1, char);
    else if (op < 0.7) chars.splice(at, 0, char);
    else chars.splice(at, 1);
  }
  return chars.join('');
}

function generateFrame(random: () => number): string {
  const base = pick(random, VALID_FRAMES);
  const roll = random();
  if (roll < 0.1) return JSON.stringify(base);
  if (roll < 0.55) return JSON.stringify(mutateValue(random, base)) ?? 'undefined';
  if (roll < 0.9) return mutateText(random, JSON.stringify(base));
  return mutateText(random, JSON.stringify(mutateValue(random, base)) ?? '');
}

const KINDS = new Set(['ping', 'pong', 'subscribe', 'unsubscribe', 'signin', 'client-event', 'unknown']);

test(`parseClientFrame survives ${FRAMES} mutated frames (seed ${SEED})`, () => {
  const random = seededRandom(SEED);
  const seen = { ok: 0, error: 0 };
  for (let i = 0; i < FRAMES; i++) {
    const frame = generateFrame(random);
    let result: ReturnType<typeof parseClientFrame>;
    try {
      result = parseClientFrame(frame);
    } catch (error) {
      throw new Error(`frame #${i} threw: ${String(error)}\n${frame.slice(0, 500)}`);
    }
    if (result.ok) {
      seen.ok++;
      expect(KINDS.has(result.message.kind), frame).toBe(true);
    } else {
      seen.error++;
      expect(isErrorCode(result.error.code), frame).toBe(true);
      expect(result.error.code, frame).not.toBe('INTERNAL_ERROR');
    }
  }
  // The generator must exercise both paths, or the test proves little.
  expect(seen.ok).toBeGreaterThan(FRAMES / 20);
  expect(seen.error).toBeGreaterThan(FRAMES / 5);
}, 5_000);
