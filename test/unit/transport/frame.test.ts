import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import type { Writable } from 'node:stream';

// ws's Receiver (its own frame parser) is not in @types/ws.
const Receiver = (createRequire(import.meta.url)('ws') as { Receiver: unknown }).Receiver as new (options: { isServer: boolean }) => Writable;

import { frameText } from '../../../src/transport/frame.js';

/** Decode a server frame with ws's own Receiver (client side), so framing is checked by a real parser. */
function decodeWithWs(frame: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const receiver = new Receiver({ isServer: false });
    receiver.on('message', (data: Buffer, isBinary: boolean) => {
      expect(isBinary).toBe(false);
      resolve(data.toString('utf8'));
    });
    receiver.on('error', reject);
    receiver.write(frame);
  });
}

describe('frameText', () => {
  it.each([0, 1, 125, 126, 127, 65535, 65536, 200_000])('frames a %i-byte payload that ws decodes back', async (length) => {
    const payload = 'x'.repeat(length);
    const frame = frameText(payload);
    expect(await decodeWithWs(frame)).toBe(payload);
  });

  it('counts UTF-8 bytes, not UTF-16 units', async () => {
    const payload = JSON.stringify({ text: 'héllo — 你好 🎉'.repeat(20) });
    expect(await decodeWithWs(frameText(payload))).toBe(payload);
  });
});
