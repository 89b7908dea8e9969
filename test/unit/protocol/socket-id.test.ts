import Pusher from 'pusher';
import { expect, test } from 'vitest';
import { createSocketId } from '../../../src/protocol/socket-id.js';

test('socket ids have the digits.digits form and are unique', () => {
  const ids = new Set<string>();
  for (let i = 0; i < 10_000; i++) {
    const id = createSocketId();
    expect(id).toMatch(/^\d+\.\d+$/);
    ids.add(id);
  }
  expect(ids.size).toBe(10_000);
});

test('the pusher server SDK accepts them when authorising a channel', () => {
  const sdk = new Pusher({ appId: '1', key: 'k', secret: 's', host: '127.0.0.1' });
  expect(() => sdk.authorizeChannel(createSocketId(), 'private-a')).not.toThrow();
});
