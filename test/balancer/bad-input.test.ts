import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Balancer } from '../../src/balancer/balancer.js';
import type { RunningNode } from '../../src/node.js';
import { startTestNode } from '../helpers/node.js';
import { backendsUp, closeAll, openFds, openMany, sleep, startBalancer, until, WS_PATH } from './helpers.js';

let node: RunningNode;
let balancer: Balancer;

beforeAll(async () => {
  node = await startTestNode();
  balancer = await startBalancer({ backend: [`127.0.0.1:${node.port}`], headersTimeout: 0.5, maxHeaderBytes: 4096 });
  await backendsUp(balancer);
});

afterAll(async () => {
  await balancer.stop();
  await node.stop({ drainSeconds: 0 });
});

/** Send raw bytes; resolve with everything the balancer answered once it closed the socket. */
function raw(bytes: string | Buffer, { keepOpen = false, ms = 5000 } = {}): Promise<{ answer: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(balancer.port, '127.0.0.1');
    let answer = '';
    const timer = setTimeout(() => reject(new Error(`not closed; got ${JSON.stringify(answer.slice(0, 200))}`)), ms);
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ answer, socket });
    });
    socket.write(bytes);
    if (!keepOpen) socket.end();
  });
}

async function stillServes(): Promise<void> {
  const sockets = await openMany(balancer.port, 3, 3);
  await closeAll(sockets);
  const res = await fetch(`http://127.0.0.1:${balancer.port}/apps/app-id/channels`);
  expect(res.status).toBe(401); // reached the node: unsigned request
}

async function settledFds(baseline: number): Promise<void> {
  await until(() => openFds() <= baseline + 2, 5000, `fds back to ${baseline} (now ${openFds()})`);
}

describe('balancer: bad input', () => {
  it('closes each bad request cleanly, keeps serving, and leaks no fds', async () => {
    await stillServes();
    await sleep(100);
    const baseline = openFds();

    // Not HTTP at all.
    expect((await raw('\x16\x03\x01garbage that is not http\r\n\r\n')).answer).toMatch(/^HTTP\/1\.1 400/);
    // An upgrade without the WebSocket headers.
    expect((await raw(`GET ${WS_PATH} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`, { keepOpen: true })).answer).toMatch(
      /^HTTP\/1\.1 400/,
    );
    // Upgrade to something else than websocket.
    expect((await raw(`GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nSec-WebSocket-Key: x\r\n\r\n`, { keepOpen: true })).answer).toMatch(
      /^HTTP\/1\.1 400/,
    );
    // Header flood: beyond maxHeaderBytes.
    const flood = `GET / HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 400 }, (_, i) => `X-Flood-${i}: ${'a'.repeat(40)}\r\n`).join('')}\r\n`;
    expect((await raw(flood, { keepOpen: true })).answer).toMatch(/^HTTP\/1\.1 431/);

    // Slowloris: a header line every 200 ms, never the end of the head.
    const slow = await new Promise<{ closedAfterMs: number }>((resolve) => {
      const started = Date.now();
      const socket = connect(balancer.port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
      const drip = setInterval(() => socket.write(`X-Drip: ${Date.now()}\r\n`), 200);
      socket.on('close', () => {
        clearInterval(drip);
        resolve({ closedAfterMs: Date.now() - started });
      });
    });
    // headersTimeout 0.5 s, checked every 250 ms.
    expect(slow.closedAfterMs).toBeLessThan(3000);

    // Garbage after a completed upgrade: the node's WebSocket parser refuses it and both sides go.
    const key = Buffer.from('0123456789abcdef').toString('base64');
    const afterUpgrade = await raw(
      Buffer.concat([
        Buffer.from(
          `GET ${WS_PATH} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`,
        ),
        Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05]),
      ]),
      { keepOpen: true },
    );
    expect(afterUpgrade.answer).toMatch(/^HTTP\/1\.1 101/);

    // Many connections opened and dropped mid-handshake.
    await Promise.all(Array.from({ length: 50 }, () => raw(`GET ${WS_PATH} HTTP/1.1\r\nHost: x\r\n`)));

    await stillServes();
    await settledFds(baseline);
    await until(() => balancer.set.total === 0, 3000, 'no tunnels left');
    expect(node.core.connections.size).toBe(0);
  });
});
