import { describe, expect, test } from 'vitest';
import { parseClientFrame, type ClientMessage } from '../../../src/protocol/frames.js';
import type { ErrorCodeName } from '../../../src/protocol/errors.js';
import { pusherJsProtocol } from './pusher-js-protocol.js';

// pusher-js's own encoder, so the valid frames below are exactly what the client sends.
const encode = (event: string, data: unknown, channel?: string): string =>
  pusherJsProtocol.encodeMessage({ event, data, ...(channel === undefined ? {} : { channel }) });

function accepted(text: string): ClientMessage {
  const result = parseClientFrame(text);
  if (!result.ok) throw new Error(`expected ok, got ${result.error.code}: ${result.error.message}`);
  return result.message;
}

function rejectedWith(text: string): ErrorCodeName {
  const result = parseClientFrame(text);
  if (result.ok) throw new Error(`expected an error, got ${JSON.stringify(result.message)}`);
  return result.error.code;
}

describe('parseClientFrame accepts what pusher-js sends', () => {
  test('ping and pong', () => {
    expect(accepted(encode('pusher:ping', {}))).toEqual({ kind: 'ping' });
    expect(accepted(encode('pusher:pong', {}))).toEqual({ kind: 'pong' });
  });

  test('public subscribe (pusher-js sends an empty auth)', () => {
    expect(accepted(encode('pusher:subscribe', { auth: '', channel: 'news' }))).toEqual({
      kind: 'subscribe',
      channel: 'news',
      auth: '',
    });
  });

  test('presence subscribe keeps channel_data as the string the client signed', () => {
    const channelData = JSON.stringify({ user_id: '1', user_info: { name: 'Ann' } });
    const message = accepted(encode('pusher:subscribe', { auth: 'key:abc', channel_data: channelData, channel: 'presence-room' }));
    expect(message).toEqual({ kind: 'subscribe', channel: 'presence-room', auth: 'key:abc', channelData });
  });

  test('subscribe data given as a JSON string (older clients)', () => {
    const frame = JSON.stringify({ event: 'pusher:subscribe', data: JSON.stringify({ channel: 'private-a', auth: 'k:s' }) });
    expect(accepted(frame)).toEqual({ kind: 'subscribe', channel: 'private-a', auth: 'k:s' });
  });

  test('unsubscribe', () => {
    expect(accepted(encode('pusher:unsubscribe', { channel: 'news' }))).toEqual({ kind: 'unsubscribe', channel: 'news' });
  });

  test('signin', () => {
    const userData = JSON.stringify({ id: '1', watchlist: ['2'] });
    expect(accepted(encode('pusher:signin', { auth: 'key:sig', user_data: userData }))).toEqual({
      kind: 'signin',
      auth: 'key:sig',
      userData,
    });
  });

  test('client events with object, string or missing data', () => {
    expect(accepted(encode('client-typing', { who: 'me' }, 'private-chat'))).toEqual({
      kind: 'client-event',
      event: 'client-typing',
      channel: 'private-chat',
      data: { who: 'me' },
    });
    expect(accepted(encode('client-typing', 'hello', 'presence-room'))).toMatchObject({ data: 'hello' });
    expect(accepted(encode('client-typing', undefined, 'presence-room'))).toMatchObject({ data: undefined });
  });

  test('other well-formed events are reported as unknown for the caller to answer', () => {
    expect(accepted(encode('pusher:whatever', {}))).toEqual({ kind: 'unknown', event: 'pusher:whatever' });
    expect(accepted(encode('my-event', {}, 'news'))).toEqual({ kind: 'unknown', event: 'my-event' });
  });
});

describe('parseClientFrame rejects bad frames with a catalogue code', () => {
  test.each([
    ['not JSON', '{"event":', 'INVALID_JSON'],
    ['empty text', '', 'INVALID_JSON'],
    ['an array', '[1,2]', 'FRAME_NOT_OBJECT'],
    ['null', 'null', 'FRAME_NOT_OBJECT'],
    ['a number', '42', 'FRAME_NOT_OBJECT'],
    ['no event', '{"data":{}}', 'MISSING_FIELD'],
    ['a numeric event', '{"event":7}', 'INVALID_FIELD'],
    ['an empty event', '{"event":""}', 'INVALID_FIELD'],
    ['an event name over 200', JSON.stringify({ event: `client-${'x'.repeat(200)}` }), 'EVENT_NAME_TOO_LONG'],
    ['subscribe without data', '{"event":"pusher:subscribe"}', 'MISSING_FIELD'],
    ['subscribe with numeric data', '{"event":"pusher:subscribe","data":5}', 'INVALID_FIELD'],
    ['subscribe with array data', '{"event":"pusher:subscribe","data":[]}', 'INVALID_FIELD'],
    ['subscribe with a non-JSON string', '{"event":"pusher:subscribe","data":"channel"}', 'INVALID_FIELD'],
    ['subscribe without channel', '{"event":"pusher:subscribe","data":{}}', 'MISSING_FIELD'],
    ['subscribe with object channel', '{"event":"pusher:subscribe","data":{"channel":{}}}', 'INVALID_FIELD'],
    ['subscribe with a bad name', '{"event":"pusher:subscribe","data":{"channel":"a b"}}', 'INVALID_CHANNEL_NAME'],
    ['subscribe with a long name', JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'a'.repeat(201) } }), 'CHANNEL_NAME_TOO_LONG'],
    ['subscribe with numeric auth', '{"event":"pusher:subscribe","data":{"channel":"private-a","auth":1}}', 'INVALID_FIELD'],
    ['subscribe with a huge auth', JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'private-a', auth: 'x'.repeat(1001) } }), 'INVALID_FIELD'],
    ['subscribe with object channel_data', '{"event":"pusher:subscribe","data":{"channel":"presence-a","channel_data":{"user_id":1}}}', 'INVALID_FIELD'],
    [
      'subscribe with channel_data over 64 KiB',
      JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'presence-a', channel_data: 'x'.repeat(65537) } }),
      'INVALID_FIELD',
    ],
    ['unsubscribe without channel', '{"event":"pusher:unsubscribe","data":{}}', 'MISSING_FIELD'],
    ['signin without auth', '{"event":"pusher:signin","data":{"user_data":"{}"}}', 'MISSING_FIELD'],
    ['signin without user_data', '{"event":"pusher:signin","data":{"auth":"k:s"}}', 'MISSING_FIELD'],
    ['signin with object user_data', '{"event":"pusher:signin","data":{"auth":"k:s","user_data":{"id":"1"}}}', 'INVALID_FIELD'],
    ['client event without channel', '{"event":"client-x","data":{}}', 'MISSING_FIELD'],
    ['client event with numeric channel', '{"event":"client-x","channel":1}', 'INVALID_FIELD'],
    ['client event with a bad channel', '{"event":"client-x","channel":"private-"}', 'INVALID_CHANNEL_NAME'],
  ])('%s', (_label, text, code) => {
    expect(rejectedWith(text)).toBe(code);
  });

  test('__proto__ keys neither pollute prototypes nor confuse validation', () => {
    const text = '{"event":"pusher:subscribe","__proto__":{"polluted":true},"data":{"__proto__":{"channel":"x"}}}';
    expect(rejectedWith(text)).toBe('MISSING_FIELD');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('deep nesting and huge numbers do not throw', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(parseClientFrame(deep).ok).toBe(false);
    const deepData = `{"event":"client-x","channel":"private-a","data":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
    expect(parseClientFrame(deepData).ok).toBe(true);
    expect(parseClientFrame('{"event":"pusher:subscribe","data":1e999999}').ok).toBe(false);
  });

  test('non-string input from an untyped caller is an error, not a crash', () => {
    expect(parseClientFrame(undefined as unknown as string).ok).toBe(false);
    expect(parseClientFrame(Buffer.from('{}') as unknown as string).ok).toBe(false);
  });
});
