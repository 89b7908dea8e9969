import { describe, expect, test } from 'vitest';
import { classifyChannel, MAX_CHANNEL_NAME_LENGTH, userChannelName, userIdFromUserChannel } from '../../../src/protocol/channels.js';

describe('classifyChannel', () => {
  test.each([
    ['my-channel', 'public', false],
    ['private-chat', 'private', false],
    ['presence-room', 'presence', false],
    ['private-encrypted-secrets', 'encrypted', false],
    ['private-encrypted-cache-secrets', 'encrypted', true],
    ['private-cache-chat', 'private', true],
    ['presence-cache-room', 'presence', true],
    ['cache-news', 'public', true],
    ['A-Za-z0-9_-=@,.;', 'public', false],
    ['#server-to-user-42', 'user', false],
    ['#server-to-user-alice@example.com', 'user', false],
  ] as const)('%s is %s (cache %s)', (name, type, cache) => {
    expect(classifyChannel(name)).toEqual({ type, cache });
  });

  test.each([
    ['empty', ''],
    ['a space', 'my channel'],
    ['a colon', 'private-a:b'],
    ['a hash outside the user prefix', '#news'],
    ['non-ascii', 'café'],
    ['bare private-', 'private-'],
    ['bare presence-', 'presence-'],
    ['bare private-encrypted-', 'private-encrypted-'],
    ['bare cache-', 'cache-'],
    ['an empty user id', '#server-to-user-'],
    ['a control character in the user id', '#server-to-user-a\nb'],
  ])('rejects %s', (_label, name) => {
    expect(classifyChannel(name)).toBeNull();
  });

  test('limits ordinary names to 200 characters', () => {
    expect(classifyChannel('a'.repeat(MAX_CHANNEL_NAME_LENGTH))).not.toBeNull();
    expect(classifyChannel('a'.repeat(MAX_CHANNEL_NAME_LENGTH + 1))).toBeNull();
  });

  test('user channels may exceed 200 characters by their prefix, not more', () => {
    expect(classifyChannel(userChannelName('u'.repeat(200)))).toEqual({ type: 'user', cache: false });
    expect(classifyChannel(userChannelName('u'.repeat(201)))).toBeNull();
  });
});

describe('user channels', () => {
  test('round-trip a user id', () => {
    expect(userChannelName('42')).toBe('#server-to-user-42');
    expect(userIdFromUserChannel(userChannelName('user:42'))).toBe('user:42');
  });

  test('other channels have no user id', () => {
    expect(userIdFromUserChannel('private-42')).toBeNull();
    expect(userIdFromUserChannel('#server-to-user-')).toBeNull();
  });
});
