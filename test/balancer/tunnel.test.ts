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
 * A raw TCP backend: `/ready` gets 200; an upgrade gets 101, then is handed
 * to `upgraded` with its request head.
 */
async function rawBackend(upgraded: (s: Socket, head: string) => void): Promise<{ server: Server; port: number }> {
  const server = createServer((s: Socket) => {
    s.on('error', () => undefined);
    s.once('data', (d: Buffer) => {
      const head = d.toString('latin1');
      if (!head.toLowerCase().includes('upgrade: websocket')) {
        s.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}');
        return;
      }
      s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      upgraded(s, head);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

/** Write `count` chunks (`chunkAt(n)`) as fast as the socket takes them; resolves with their SHA-1 once all are written. */
function pump(s: Socket, count: number, chunkAt: (n: number) => Buffer): Promise<string> {
  const sha = createHash('sha1');
  let n = 0;
  return new Promise((resolve) => {
    const more = (): void => {
      while (n < count) {
        const chunk = chunkAt(n++);
        sha.update(chunk);
        if (!s.write(chunk)) {
          s.once('drain', more);
          return;
        }
      }
      resolve(sha.digest('hex'));
    };
    more();
  });
}

/**
 * `TOTAL` bytes to the one upgrade, in chunks of a pattern that changes
 * every chunk (so order shows in the hash). `sent` counts bytes that left
 * its socket's user-space buffer.
 */
async function blaster(): Promise<{ server: Server; port: number; sent: () => number; hash: Promise<string> }> {
  let upstream: Socket | undefined;
  let resolveHash: (h: string) => void = () => undefined;
  const hash = new Promise<string>((r) => (resolveHash = r));
  const { server, port } = await rawBackend((s) => {
    upstream = s;
    void pump(s, TOTAL / CHUNK, (n) => Buffer.alloc(CHUNK, n)).then(resolveHash);
  });
  return { server, port, sent: () => (upstream === undefined ? 0 : upstream.bytesWritten - upstream.writableLength), hash };
}

/**
 * `chunks` small writes of `size` bytes to each upgrade, whose contents depend
 * on the connection and the write; each connection's hash by the id the
 * client put in its request path.
 */
async function chatterbox(chunks: number, size: number): Promise<{ server: Server; port: number; hashes: Map<string, Promise<string>> }> {
  const hashes = new Map<string, Promise<string>>();
  const { server, port } = await rawBackend((s, head) => {
    const id = /[?&]id=(\w+)/.exec(head)?.[1] ?? '';
    hashes.set(
      id,
      pump(s, chunks, (n) => Buffer.alloc(size, `${id}:${n};`)),
    );
  });
  return { server, port, hashes };
}

/** Open a raw upgrade through the balancer; resolves with the bytes after the 101 as they arrive. */
async function rawUpgrade(port: number, id: string): Promise<Socket> {
  const client = connect(port, '127.0.0.1');
  cleanups.push(() => client.destroy());
  await once(client, 'connect');
  client.write(
    `GET ${WS_PATH}?id=${id} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${Buffer.from('0123456789abcdef').toString('base64')}\r\n\r\n`,
  );
  return client;
}

/** Hash what a client receives after the upgrade's head, until `total` bytes. */
function received(client: Socket, total: number): Promise<string> {
  const sha = createHash('sha1');
  let head: Buffer | null = Buffer.alloc(0);
  let count = 0;
  return new Promise((resolve) => {
    client.on('data', (d: Buffer) => {
      let body = d;
      if (head !== null) {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        body = head.subarray(end + 4);
        head = null;
      }
      sha.update(body);
      count += body.length;
      if (count >= total) resolve(sha.digest('hex'));
    });
  });
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

  it('a slow client and a fast one on the same balancer each get their own bytes, intact, in order', async () => {
    // Small writes make many reads per tunnel, so reads for the fast client happen while the slow
    // client's socket still holds unsent data from earlier reads: each must be its own copy.
    const chunks = 8000;
    const total = chunks * 1000;
    const backend = await chatterbox(chunks, 1000);
    cleanups.push(() => new Promise((r) => backend.server.close(r)));
    const balancer = await startBalancer({ backend: [`127.0.0.1:${backend.port}`] });
    cleanups.push(() => balancer.stop());
    await backendsUp(balancer);

    const slow = await rawUpgrade(balancer.port, 'slow');
    const fast = await rawUpgrade(balancer.port, 'fast');
    const fastGot = received(fast, total);
    const slowGot = received(slow, total);
    // The slow client reads in short bursts with pauses between them.
    const pacer = setInterval(() => {
      slow.pause();
      setTimeout(() => slow.resume(), 20);
    }, 40);
    cleanups.push(() => clearInterval(pacer));
    await until(() => backend.hashes.size === 2, 5_000, 'both upgrades at the backend');
    expect(await fastGot).toBe(await backend.hashes.get('fast'));
    expect(await slowGot).toBe(await backend.hashes.get('slow'));
  }, 30_000);
});
