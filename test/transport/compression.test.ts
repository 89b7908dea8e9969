import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Connection } from '../../src/core/connection.js';
import { metrics } from '../../src/metrics/index.js';
import type { RunningNode } from '../../src/node.js';
import { negotiatedServerWindowBits, rawSocketOf } from '../../src/transport/ws-internals.js';
import { connected, DEV_APP, pusherClient, RawClient, serverSdk, startTestNode, subscribed, until, type PusherJs } from '../helpers/node.js';

const CHROMIUM = '/usr/bin/chromium';
const CLIENT_PATH = `/app/${DEV_APP.key}?protocol=7&client=js&version=8.4.0`;
const PLAIN_APP = { id: 'plain-app', key: 'plain-key', secret: 'plain-secret' };

/** JSON that compresses the way real event payloads do (repeated keys, varied values). */
function compressiblePayload(bytes: number): string {
  const rows: unknown[] = [];
  let i = 0;
  while (JSON.stringify(rows).length < bytes)
    rows.push({ id: i, name: `user-${i % 97}`, status: i % 3 === 0 ? 'online' : 'away', score: (i * 7919) % 1000, tags: ['a', 'b', String(i % 13)] }), i++;
  return JSON.stringify(rows).slice(0, bytes);
}

async function counterValue(
  counter: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, unknown> }> }> },
  labels: Record<string, string> = {},
): Promise<number> {
  const { values } = await counter.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);
}

/** Bytes the node wrote to the socket of the connection with this socket id (headers + frames). */
function bytesWrittenTo(node: RunningNode, socketId: string): number {
  const conn = [...node.core.connections].find((c) => c.id === socketId) as Connection;
  return rawSocketOf(conn.link as WebSocket).bytesWritten;
}

/** The server window bits the socket negotiated with server_no_context_takeover; null when it did not negotiate permessage-deflate. */
function deflateOf(node: RunningNode, socketId: string): number | null {
  const conn = [...node.core.connections].find((c) => c.id === socketId) as Connection;
  return negotiatedServerWindowBits(conn.link as WebSocket);
}

async function wsClient(node: RunningNode, perMessageDeflate: boolean | { serverMaxWindowBits: number }, path = CLIENT_PATH): Promise<RawClient> {
  const ws = new WebSocket(`ws://127.0.0.1:${node.port}${path}`, { perMessageDeflate });
  const client = new RawClient(ws);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  await client.event('pusher:connection_established');
  return client;
}

async function subscribeRaw(client: RawClient, channel: string): Promise<void> {
  client.send({ event: 'pusher:subscribe', data: { channel } });
  await client.next((m) => m.event === 'pusher_internal:subscription_succeeded' && m.channel === channel);
}

describe('permessage-deflate, compressed once per broadcast', () => {
  let node: RunningNode;
  const clients: Array<{ close(): void }> = [];
  beforeAll(async () => {
    node = await startTestNode({
      compression: 'deflate',
      compressionMinBytes: 1024,
      apps: [
        { ...DEV_APP, maxEventPayloadKb: 200 },
        { ...PLAIN_APP, maxEventPayloadKb: 200, compression: 'off' },
      ],
    });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await node.stop({ drainSeconds: 0 });
  });

  it('a ws client that offers it, a ws client that does not and pusher-js in Node each get the event; one compression serves them all', async () => {
    const deflating = [await wsClient(node, true), await wsClient(node, true)];
    const plainWs = await wsClient(node, false);
    const pusher: PusherJs = pusherClient(node);
    clients.push(...deflating, plainWs, { close: () => pusher.disconnect() });
    const pusherSocketId = await connected(pusher);
    const channel = 'big-news';
    for (const c of [...deflating, plainWs]) await subscribeRaw(c, channel);
    const pusherChannel = await subscribed(pusher, channel);
    const atPusher: unknown[] = [];
    pusherChannel.bind('blob', (data: unknown) => atPusher.push(data));

    // What the clients negotiated: ws offers it by default; pusher-js's Node socket does not.
    for (const c of deflating) expect(deflateOf(node, c.socketId)).toBe(15);
    expect(deflateOf(node, plainWs.socketId)).toBeNull();
    expect(deflateOf(node, pusherSocketId)).toBeNull();

    const payload = compressiblePayload(100 * 1024);
    const ids = [...deflating, plainWs].map((c) => c.socketId).concat(pusherSocketId);
    const before = new Map(ids.map((id) => [id, bytesWrittenTo(node, id)]));
    const compressionsBefore = await counterValue(metrics.compressions);
    await serverSdk(node).trigger(channel, 'blob', { payload });

    for (const c of [...deflating, plainWs]) {
      const m = await c.next((x) => x.event === 'blob');
      expect(JSON.parse(m.data as string)).toEqual({ payload });
    }
    await until(() => atPusher.length === 1, 3000, 'pusher-js to get the event');
    expect(atPusher[0]).toEqual({ payload });
    expect(await counterValue(metrics.compressions)).toBe(compressionsBefore + 1);

    const written = (id: string): number => bytesWrittenTo(node, id) - before.get(id)!;
    for (const c of deflating) expect(written(c.socketId)).toBeLessThan(payload.length / 3);
    expect(written(plainWs.socketId)).toBeGreaterThan(payload.length);
    expect(written(pusherSocketId)).toBeGreaterThan(payload.length);
  });

  it('compresses once per negotiated window size: a client asking for a 10-bit server window gets its own frame, decodable', async () => {
    const wide = await wsClient(node, true);
    const narrow = await wsClient(node, { serverMaxWindowBits: 10 });
    const narrowToo = await wsClient(node, { serverMaxWindowBits: 10 });
    clients.push(wide, narrow, narrowToo);
    expect(deflateOf(node, wide.socketId)).toBe(15);
    expect(deflateOf(node, narrow.socketId)).toBe(10);
    for (const c of [wide, narrow, narrowToo]) await subscribeRaw(c, 'windows');
    const compressionsBefore = await counterValue(metrics.compressions);
    const payload = compressiblePayload(20 * 1024);
    const before = bytesWrittenTo(node, narrow.socketId);
    await serverSdk(node).trigger('windows', 'blob', { payload });
    for (const c of [wide, narrow, narrowToo]) expect(JSON.parse((await c.next((m) => m.event === 'blob')).data as string)).toEqual({ payload });
    expect(await counterValue(metrics.compressions)).toBe(compressionsBefore + 2);
    expect(bytesWrittenTo(node, narrow.socketId) - before).toBeLessThan(payload.length / 3);
  });

  it('small frames and apps that turn it off go plain, and nothing is compressed for them', async () => {
    const deflating = await wsClient(node, true);
    const otherApp = await wsClient(node, true, `/app/${PLAIN_APP.key}?protocol=7&client=js&version=8.4.0`);
    clients.push(deflating, otherApp);
    await subscribeRaw(deflating, 'small');
    await subscribeRaw(otherApp, 'big');
    const compressionsBefore = await counterValue(metrics.compressions);
    const beforeSmall = bytesWrittenTo(node, deflating.socketId);
    await serverSdk(node).trigger('small', 'tick', { n: 1 });
    await deflating.next((m) => m.event === 'tick');
    const payload = compressiblePayload(50 * 1024);
    const beforeBig = bytesWrittenTo(node, otherApp.socketId);
    await serverSdk(node, PLAIN_APP).trigger('big', 'blob', { payload });
    const m = await otherApp.next((x) => x.event === 'blob');
    expect(JSON.parse(m.data as string)).toEqual({ payload });
    expect(await counterValue(metrics.compressions)).toBe(compressionsBefore);
    expect(bytesWrittenTo(node, otherApp.socketId) - beforeBig).toBeGreaterThan(payload.length);
    expect(bytesWrittenTo(node, deflating.socketId) - beforeSmall).toBeGreaterThan(40);
  });

  it('a decompression bomb (a tiny compressed frame inflating past maxFrameBytes) closes that socket with 1009 and nothing else', async () => {
    const bystander = await wsClient(node, true);
    const attacker = await wsClient(node, true);
    clients.push(bystander, attacker);
    await subscribeRaw(bystander, 'calm');
    const tripsBefore = await counterValue(metrics.limitTrips, { limit: 'maxFrameBytes' });
    // 4 MB of one letter deflates to a few KB on the wire, far under maxFrameBytes (64 KB) until inflated.
    const bomb = JSON.stringify({ event: 'pusher:ping', data: 'x'.repeat(4 * 1024 * 1024) });
    let sentBytes = 0;
    const socket = (attacker.ws as unknown as { _socket: import('node:net').Socket })._socket;
    const startWritten = socket.bytesWritten;
    attacker.ws.send(bomb, { compress: true }, () => (sentBytes = socket.bytesWritten - startWritten));
    expect(await attacker.closed()).toBe(1009);
    expect(sentBytes).toBeGreaterThan(0);
    expect(sentBytes).toBeLessThan(64 * 1024);
    expect(await counterValue(metrics.limitTrips, { limit: 'maxFrameBytes' })).toBe(tripsBefore + 1);
    await serverSdk(node).trigger('calm', 'still-here', { ok: true });
    await bystander.next((m) => m.event === 'still-here');
  });
});

describe('compression budget', () => {
  let node: RunningNode;
  let client: RawClient;
  beforeAll(async () => {
    node = await startTestNode({ compression: 'deflate', compressionMaxBytesPerSecond: 250 * 1024, apps: [{ ...DEV_APP, maxEventPayloadKb: 200 }] });
    client = await wsClient(node, true);
    await subscribeRaw(client, 'firehose');
  });
  afterAll(async () => {
    client.close();
    await node.stop({ drainSeconds: 0 });
  });

  it('past compressionMaxBytesPerSecond frames go plain (counted as a limit trip) and still arrive whole', async () => {
    const trips = await counterValue(metrics.limitTrips, { limit: 'compressionMaxBytesPerSecond' });
    const payload = compressiblePayload(100 * 1024);
    const sdk = serverSdk(node);
    const before = bytesWrittenTo(node, client.socketId);
    await sdk.trigger('firehose', 'blob', { n: 1, payload });
    await sdk.trigger('firehose', 'blob', { n: 2, payload });
    await client.next((m) => m.event === 'blob' && (JSON.parse(m.data as string) as { n: number }).n === 2);
    // One compressed (< a third), one plain (> the payload): both fit only if exactly one went plain.
    const written = bytesWrittenTo(node, client.socketId) - before;
    const plainFrame = JSON.stringify(JSON.stringify({ n: 1, payload })).length;
    expect(written).toBeGreaterThan(plainFrame);
    expect(written).toBeLessThan(plainFrame * 1.4);
    expect(await counterValue(metrics.limitTrips, { limit: 'compressionMaxBytesPerSecond' })).toBe(trips + 1);
  });
});

describe.skipIf(!existsSync(CHROMIUM))('pusher-js in headless Chromium', () => {
  let node: RunningNode;
  let browser: Browser;
  beforeAll(async () => {
    node = await startTestNode({ compression: 'deflate', apps: [{ ...DEV_APP, maxEventPayloadKb: 200 }] });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await node?.stop({ drainSeconds: 0 });
  });

  it('negotiates permessage-deflate, gets compressed frames and decodes them', async () => {
    const page = await browser.newPage();
    await page.addScriptTag({ path: createRequire(import.meta.url).resolve('pusher-js/dist/web/pusher.min.js') });
    const socketId = await page.evaluate(async (port) => {
      const w = globalThis as unknown as {
        Pusher: new (
          k: string,
          o: object,
        ) => {
          connection: { bind(e: string, f: () => void): void; socket_id: string };
          subscribe(c: string): { bind(e: string, f: (d: unknown) => void): void };
        };
        got: unknown[];
        client: unknown;
      };
      const client = new w.Pusher('app-key', {
        wsHost: '127.0.0.1',
        wsPort: port,
        forceTLS: false,
        enabledTransports: ['ws'],
        cluster: 'mt1',
        disableStats: true,
      });
      w.got = [];
      await new Promise<void>((resolve) => client.connection.bind('connected', () => resolve()));
      const channel = client.subscribe('browser-news');
      await new Promise<void>((resolve) => channel.bind('pusher:subscription_succeeded', () => resolve()));
      channel.bind('blob', (d: unknown) => w.got.push(d));
      return client.connection.socket_id;
    }, node.port);
    expect(deflateOf(node, socketId)).toBe(15);
    const payload = compressiblePayload(100 * 1024);
    const before = bytesWrittenTo(node, socketId);
    await serverSdk(node).trigger('browser-news', 'blob', { payload });
    await page.waitForFunction(() => (globalThis as unknown as { got: unknown[] }).got.length === 1, undefined, { timeout: 5000 });
    const digest = await page.evaluate(() => JSON.stringify((globalThis as unknown as { got: Array<{ payload: string }> }).got[0]));
    expect(createHash('sha256').update(digest).digest('hex')).toBe(createHash('sha256').update(JSON.stringify({ payload })).digest('hex'));
    expect(bytesWrittenTo(node, socketId) - before).toBeLessThan(payload.length / 3);
  });
});
