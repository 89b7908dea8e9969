import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { backendsUp, sleep, startBalancer, until, WS_PATH } from './helpers.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const CHUNK = 64 * 1024;
const TOTAL = 160 * 1024 * 1024;

/**
 * A raw TCP backend: `/ready` gets 200; an upgrade gets 101, then `TOTAL`
 * bytes written as fast as its socket takes them (a pattern that changes
 * every chunk, so order shows in the hash). `sent` counts bytes that left
 * its socket's user-space buffer.
 */
async function blaster(): Promise<{ server: Server; port: number; sent: () => number; hash: Promise<string> }> {
  let upstream: Socket | undefined;
  let resolveHash: (h: string) => void = () => undefined;
  const hash = new Promise<string>((r) => (resolveHash = r));
  const server = createServer((s: Socket) => {
    s.on('error', () => undefined);
    s.once('data', (d: Buffer) => {
      if (!d.toString('latin1').toLowerCase().includes('upgrade: websocket')) {
        s.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}');
        return;
      }
      upstream = s;
      s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      const sha = createHash('sha1');
      let written = 0;
      const pump = (): void => {
        while (written < TOTAL) {
          const chunk = Buffer.alloc(CHUNK, written / CHUNK);
          sha.update(chunk);
          written += CHUNK;
          if (!s.write(chunk)) {
            s.once('drain', pump);
            return;
          }
        }
        resolveHash(sha.digest('hex'));
      };
      pump();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { server, port, sent: () => (upstream === undefined ? 0 : upstream.bytesWritten - upstream.writableLength), hash };
}

describe('balancer tunnel', () => {
  it('a client that stops reading stops the backend (backpressure), and then gets every byte in order', async () => {
    const backend = await blaster();
    cleanups.push(() => new Promise((r) => backend.server.close(r)));
    const balancer = await startBalancer({ backend: [`127.0.0.1:${backend.port}`] });
    cleanups.push(() => balancer.stop());
    await backendsUp(balancer);

    const client = connect(balancer.port, '127.0.0.1');
    cleanups.push(() => client.destroy());
    await once(client, 'connect');
    client.write(
      `GET ${WS_PATH} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${Buffer.from('0123456789abcdef').toString('base64')}\r\n\r\n`,
    );
    // Read the 101 only, then stop reading.
    const [first] = (await once(client, 'data')) as [Buffer];
    client.pause();
    const headEnd = first.indexOf('\r\n\r\n');
    expect(first.toString('latin1', 0, 12)).toBe('HTTP/1.1 101');

    // Wait until the backend stalls: its writes stop leaving its socket.
    let last = -1;
    await until(
      async () => {
        const now = backend.sent();
        const stalled = now === last && now > 0;
        last = now;
        await sleep(300);
        return stalled;
      },
      15_000,
      'the backend to stall',
    );
    // What is in flight is the kernel's socket buffers on the way, not the whole stream buffered in the balancer.
    expect(backend.sent()).toBeLessThan(TOTAL * 0.75);

    const sha = createHash('sha1');
    let received = 0;
    const rest = first.subarray(headEnd + 4);
    sha.update(rest);
    received += rest.length;
    client.on('data', (d: Buffer) => {
      sha.update(d);
      received += d.length;
    });
    client.resume();
    await until(() => received >= TOTAL, 15_000, `all bytes (got ${received})`);
    expect(received).toBe(TOTAL);
    expect(sha.digest('hex')).toBe(await backend.hash);
  });
});
