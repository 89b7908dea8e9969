import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { metrics } from '../../src/metrics/index.js';
import type { RunningNode } from '../../src/node.js';
import { DEV_APP, sleep, startTestNode, until, withTimeout } from '../helpers/node.js';

// WebSocket-level pings (opcode 0x9) are answered by the transport's one shared
// listener, not by ws's autoPong (a closure per socket). What a client sees:
// a pong with its payload; a client that pings without reading is cut once
// the pongs it leaves unread pass maxSendBufferBytes, as a slow consumer is.

async function limitTrips(limit: string): Promise<number> {
  const { values } = await metrics.limitTrips.get();
  return values.filter((v) => v.labels.limit === limit).reduce((a, v) => a + v.value, 0);
}

describe('WebSocket ping frames', () => {
  let node: RunningNode;
  beforeAll(async () => {
    node = await startTestNode({ maxSendBufferBytes: 1024 });
  });
  afterAll(async () => {
    await node.stop({ drainSeconds: 0 });
  });

  it('answers each ping with a pong carrying the same payload', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/app/${DEV_APP.key}?protocol=7`);
    await once(ws, 'open');
    const pongs: string[] = [];
    ws.on('pong', (data) => pongs.push(String(data)));
    for (const payload of ['one', 'two', '']) ws.ping(payload);
    await until(() => pongs.length === 3, 3000, 'three pongs');
    expect(pongs).toEqual(['one', 'two', '']);
    ws.close();
    await once(ws, 'close');
  });

  it('cuts a client that keeps pinging without reading once its unsent pongs pass maxSendBufferBytes', async () => {
    const before = await limitTrips('maxSendBufferBytes');
    const socket = await handshake(node);
    socket.pause(); // never read: the pongs fill the kernel's buffers, then the node's
    const ping = maskedPing(randomBytes(125));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    let sent = 0;
    // Bounded: 200,000 pings are 26 MB of pongs, far past the loopback buffers and the 1 KiB limit.
    while (!socket.destroyed && sent < 200_000) {
      const batch = Buffer.concat(Array.from({ length: 500 }, () => ping));
      if (!socket.write(batch)) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closed, sleep(200)]);
      sent += 500;
    }
    await withTimeout(closed, 10_000, 'the node did not cut the pinging socket');
    await until(() => node.core.connections.size === 0, 5000, 'the node to let go of the socket');
    expect(await limitTrips('maxSendBufferBytes')).toBeGreaterThan(before);
  }, 30_000);
});

/** A raw TCP client that completes the WebSocket handshake and reads nothing after it. */
async function handshake(node: RunningNode): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port: node.port });
  socket.on('error', () => undefined); // the reset when the node cuts it is expected
  await once(socket, 'connect');
  socket.write(
    `GET /app/${DEV_APP.key}?protocol=7 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await until(() => node.core.connections.size === 1, 3000, 'the node to admit the socket');
  return socket;
}

/** One masked client → server ping frame (payload ≤ 125 bytes, RFC 6455 §5.5). */
function maskedPing(payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const masked = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) masked[i] = payload[i]! ^ mask[i % 4]!;
  return Buffer.concat([Buffer.from([0x89, 0x80 | payload.length]), mask, masked]);
}
