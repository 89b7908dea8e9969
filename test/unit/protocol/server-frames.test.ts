import { describe, expect, test } from 'vitest';
import {
  cacheMiss,
  connectionEstablished,
  encodeEvent,
  memberAdded,
  memberRemoved,
  presenceSubscriptionSucceeded,
  pusherError,
  pusherPing,
  pusherPong,
  signinSuccess,
  subscriptionCount,
  subscriptionError,
  subscriptionSucceeded,
  watchlistEvents,
} from '../../../src/protocol/frames.js';
import { pusherJsProtocol } from './pusher-js-protocol.js';

/** What pusher-js makes of a frame we send. */
const decode = (frame: string) => pusherJsProtocol.decodeMessage({ data: frame });

describe('encodeEvent', () => {
  test('writes string data as a JSON string, in event/channel/data/user_id order', () => {
    expect(encodeEvent('my-event', '{"a":1}', 'news', 'u1')).toBe('{"event":"my-event","channel":"news","data":"{\\"a\\":1}","user_id":"u1"}');
  });

  test('writes other data as its JSON value and leaves out absent parts', () => {
    expect(encodeEvent('client-x', { a: [1, 'two'] })).toBe('{"event":"client-x","data":{"a":[1,"two"]}}');
    expect(encodeEvent('e', null, 'c')).toBe('{"event":"e","channel":"c","data":null}');
    expect(encodeEvent('e', undefined, 'c')).toBe('{"event":"e","channel":"c"}');
  });

  test('escapes names and data so the frame stays valid JSON', () => {
    const frame = encodeEvent('e"\n', 'quote " backslash \\ \u2028', 'c');
    expect(JSON.parse(frame)).toEqual({ event: 'e"\n', channel: 'c', data: 'quote " backslash \\ \u2028' });
  });

  test('pusher-js sees the publisher payload and the user id', () => {
    expect(decode(encodeEvent('client-typing', { who: 'me' }, 'presence-room', '7'))).toEqual({
      event: 'client-typing',
      channel: 'presence-room',
      data: { who: 'me' },
      user_id: '7',
    });
    // A string that is itself JSON is decoded by pusher-js, exactly as with hosted Pusher.
    expect(decode(encodeEvent('news', '{"headline":"hi"}', 'news')).data).toEqual({ headline: 'hi' });
    expect(decode(encodeEvent('news', 'plain text', 'news')).data).toBe('plain text');
  });
});

describe('builders decode in pusher-js to the shapes it reads', () => {
  test('connection_established: socket_id and activity_timeout', () => {
    const frame = connectionEstablished('123.456', 120);
    expect(JSON.parse(frame).data).toBeTypeOf('string');
    expect(decode(frame)).toEqual({
      event: 'pusher:connection_established',
      data: { socket_id: '123.456', activity_timeout: 120 },
    });
  });

  test('pusher:error carries an object with code and message', () => {
    expect(JSON.parse(pusherError(4301, 'slow down')).data).toEqual({ code: 4301, message: 'slow down' });
    expect(decode(pusherError(null, 'bad'))).toEqual({ event: 'pusher:error', data: { code: null, message: 'bad' } });
  });

  test('ping and pong', () => {
    expect(decode(pusherPing())).toEqual({ event: 'pusher:ping', data: {} });
    expect(decode(pusherPong())).toEqual({ event: 'pusher:pong', data: {} });
  });

  test('subscription_succeeded', () => {
    expect(JSON.parse(subscriptionSucceeded('news'))).toEqual({
      event: 'pusher_internal:subscription_succeeded',
      channel: 'news',
      data: '{}',
    });
    expect(decode(subscriptionSucceeded('news', { a: 1 })).data).toEqual({ a: 1 });
  });

  test('presence subscription_succeeded lists every member once', () => {
    const members = new Map<string, unknown>([
      ['1', { name: 'Ann' }],
      ['2', undefined],
    ]);
    const event = decode(presenceSubscriptionSucceeded('presence-room', members));
    expect(event.channel).toBe('presence-room');
    expect(event.data).toEqual({ presence: { ids: ['1', '2'], hash: { '1': { name: 'Ann' }, '2': null }, count: 2 } });
    const fromPairs = decode(
      presenceSubscriptionSucceeded('presence-room', [
        ['x', 1],
        ['x', 2],
        ['__proto__', 3],
      ]),
    );
    expect(fromPairs.data).toEqual({ presence: { ids: ['x', '__proto__'], hash: JSON.parse('{"x":2,"__proto__":3}'), count: 2 } });
  });

  test('subscription_error data is an object with type, error, status', () => {
    const frame = subscriptionError('private-a', 'AuthError', 'Invalid signature', 401);
    expect(JSON.parse(frame).data).toEqual({ type: 'AuthError', error: 'Invalid signature', status: 401 });
    expect(decode(frame).channel).toBe('private-a');
  });

  test('member_added and member_removed', () => {
    expect(decode(memberAdded('presence-room', '3', { name: 'Cy' }))).toEqual({
      event: 'pusher_internal:member_added',
      channel: 'presence-room',
      data: { user_id: '3', user_info: { name: 'Cy' } },
    });
    expect(JSON.parse(memberRemoved('presence-room', '3')).data).toBe('{"user_id":"3"}');
  });

  test('cache_miss has a channel and no data', () => {
    expect(JSON.parse(cacheMiss('cache-news'))).toEqual({ event: 'pusher:cache_miss', channel: 'cache-news' });
  });

  test('subscription_count', () => {
    expect(decode(subscriptionCount('news', 3))).toEqual({
      event: 'pusher_internal:subscription_count',
      channel: 'news',
      data: { subscription_count: 3 },
    });
  });

  test('signin_success carries the exact user_data string', () => {
    const userData = '{"id":"1","user_info":{"name":"Ann"}}';
    const event = decode(signinSuccess(userData));
    expect(event).toEqual({ event: 'pusher:signin_success', data: { user_data: userData } });
  });

  test('watchlist_events', () => {
    expect(decode(watchlistEvents([{ name: 'online', user_ids: ['2', '3'] }]))).toEqual({
      event: 'pusher_internal:watchlist_events',
      data: { events: [{ name: 'online', user_ids: ['2', '3'] }] },
    });
  });
});
