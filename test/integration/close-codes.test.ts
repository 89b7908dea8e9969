import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { channelCount, type Connection } from '../../src/core/connection.js';
import type { RunningNode } from '../../src/node.js';
import { CloseCode, WsCloseCode } from '../../src/protocol/codes.js';
import { signUserAuth } from '../../src/protocol/signatures.js';
import { useTestResources } from '../helpers/lifecycle.js';
import { DEV_APP, record, type RawClient, serverSdk, sleep, startTestNode, subscribed, TestResources, until, withTimeout } from '../helpers/node.js';

// Every way the node ends or refuses a connection, read on a raw socket: the close code is
// what tells pusher-js whether to retry, so each must be exactly the documented one.

const DISABLED_APP = { id: 'off-app', key: 'off-key', secret: 'off-secret', enabled: false };
const QUOTA_APP = { id: 'quota-app', key: 'quota-key', secret: 'quota-secret', maxConnections: 1 };
const ORIGIN_APP = { id: 'origin-app', key: 'origin-key', secret: 'origin-secret', allowedOrigins: ['https://good.example'] };

/** The code a refused socket is closed with, checking the `pusher:error` the node sends first. */
async function refusedWith(client: RawClient): Promise<number> {
  const code = await client.closed();
  const error = client.messages.find((m) => m.event === 'pusher:error');
  expect(error?.data).toMatchObject({ code });
  expect(client.messages.some((m) => m.event === 'pusher:connection_established')).toBe(false);
  return code;
}

describe('admission', () => {
  let node: RunningNode;
  const res = useTestResources();
  beforeAll(async () => {
    node = await startTestNode({ apps: [DEV_APP, DISABLED_APP, QUOTA_APP, ORIGIN_APP] });
  });
  afterAll(async () => {
    await node.stop({ drainSeconds: 0 });
  });

  const cases: Array<[string, string, number]> = [
    ['an unknown app key', '/app/no-such-key?protocol=7', CloseCode.AppNotFound],
    ['a disabled app', '/app/off-key?protocol=7', CloseCode.AppDisabled],
    ['a path that is not /app/{key}', '/socket?protocol=7', CloseCode.PathNotFound],
    ['a missing protocol version', '/app/app-key', CloseCode.NoProtocolVersion],
    ['an empty protocol version', '/app/app-key?protocol=', CloseCode.NoProtocolVersion],
    ['a malformed protocol version', '/app/app-key?protocol=seven', CloseCode.InvalidVersionFormat],
    ['a protocol version too new', '/app/app-key?protocol=99', CloseCode.UnsupportedProtocolVersion],
    ['a protocol version too old', '/app/app-key?protocol=4', CloseCode.UnsupportedProtocolVersion],
  ];
  for (const [what, path, code] of cases) {
    it(`closes ${what} with ${code}`, async () => {
      expect(await refusedWith(await res.raw(node, path))).toBe(code);
    });
  }

  it('closes a connection over the app quota with 4004, and admits again once a slot frees', async () => {
    const first = await res.raw(node, '/app/quota-key?protocol=7');
    await first.event('pusher:connection_established');
    expect(await refusedWith(await res.raw(node, '/app/quota-key?protocol=7'))).toBe(CloseCode.AppOverConnectionQuota);

    first.close();
    await first.closed();
    await until(() => node.core.connections.size === 0, 3000, 'the node to forget the first socket');
    const again = await res.raw(node, '/app/quota-key?protocol=7');
    await again.event('pusher:connection_established');
  });

  it('closes a connection from an origin outside allowedOrigins with 4009, and admits an allowed one', async () => {
    const path = '/app/origin-key?protocol=7';
    expect(await refusedWith(await res.raw(node, path, { Origin: 'https://evil.example' }))).toBe(CloseCode.Unauthorized);
    expect(await refusedWith(await res.raw(node, path))).toBe(CloseCode.Unauthorized);
    const allowed = await res.raw(node, path, { Origin: 'https://good.example' });
    await allowed.event('pusher:connection_established');
  });
});

describe('node limits', () => {
  const res = useTestResources();

  it('closes a connection past the node maxConnections with 4100', async () => {
    const node = await res.node({ maxConnections: 2 });
    for (let i = 0; i < 2; i++) await (await res.raw(node)).event('pusher:connection_established');
    expect(await refusedWith(await res.raw(node))).toBe(CloseCode.OverCapacity);
  });

  it('closes a socket sending a frame over maxFrameBytes with 1009, and the others keep receiving', async () => {
    const node = await res.node({ maxFrameBytes: 1024 });
    const sdk = serverSdk(node);
    const bystander = await subscribed(res.pusher(node), 'calm');
    const seen = record(bystander, 'n');
    const big = await res.raw(node);
    await big.event('pusher:connection_established');
    big.send({ event: 'pusher:ping', data: { pad: 'x'.repeat(2000) } });
    expect(await big.closed()).toBe(WsCloseCode.MessageTooBig);
    for (let n = 0; n < 3; n++) await sdk.trigger('calm', 'n', { n });
    await until(() => seen.length === 3, 3000, 'bystander events');
    expect(seen).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
  });

  it('stops gracefully: every client gets 4200 and new connections are refused', async () => {
    const node = await res.node();
    const clients = await Promise.all([0, 1, 2].map(() => res.raw(node)));
    for (const client of clients) await client.event('pusher:connection_established');

    const stopping = node.stop({ drainSeconds: 0.2 });
    const late = new WebSocket(`ws://127.0.0.1:${node.port}/app/${DEV_APP.key}?protocol=7`);
    const refusal = await withTimeout(
      new Promise<string>((resolve) => {
        late.on('unexpected-response', (_req, response) => resolve(`HTTP ${response.statusCode}`));
        late.on('error', (err) => resolve(err.message));
        late.on('open', () => resolve('open'));
      }),
      3000,
      'no answer to a connection during drain',
    );
    late.terminate();
    // Refused before the handshake (503) while draining, or by the closed port if the drain already ended.
    expect(refusal).toMatch(/HTTP 503|ECONNREFUSED/);

    for (const client of clients) expect(await client.closed()).toBe(CloseCode.Reconnect);
    await stopping;
    const after = new WebSocket(`ws://127.0.0.1:${node.port}/app/${DEV_APP.key}?protocol=7`);
    const [error] = (await withTimeout(once(after, 'error'), 3000, 'a stopped node accepted a socket')) as [Error & { code?: string }];
    expect(error.code).toBe('ECONNREFUSED');
  });
});

// The sweep runs once a second with whole-second timeouts, so these take 2-3 s each: run them side by side.
describe.concurrent('keep-alive and sign-in deadlines', () => {
  it('closes with 4201 when a pusher:ping goes unanswered, and keeps a socket that answers', async ({ expect, onTestFinished }) => {
    const res = new TestResources();
    onTestFinished(() => res.dispose());
    const node = await res.node({ activityTimeout: 1, pongTimeout: 1 });
    const silent = await res.raw(node);
    const answering = await res.raw(node);
    const established = await silent.event('pusher:connection_established');
    expect(JSON.parse(established.data as string)).toMatchObject({ activity_timeout: 1 });
    answering.ws.on('message', (data) => {
      if (String(data).includes('"pusher:ping"')) answering.send({ event: 'pusher:pong', data: {} });
    });

    await silent.event('pusher:ping', 4000);
    expect(await silent.closed(5000)).toBe(CloseCode.PongNotReceived);
    expect(answering.messages.some((m) => m.event === 'pusher:ping')).toBe(true);
    expect(answering.closeCode).toBeUndefined();
  });

  it('closes with 4202 after inactivityTimeout without a subscribe, even if the client pings', async ({ expect, onTestFinished }) => {
    const res = new TestResources();
    onTestFinished(() => res.dispose());
    const node = await res.node({ inactivityTimeout: 2 });
    const idle = await res.raw(node);
    const pinger = setInterval(() => idle.send({ event: 'pusher:ping', data: {} }), 300);
    try {
      expect(await idle.closed(6000)).toBe(CloseCode.ClosedAfterInactivity);
      expect(idle.messages.some((m) => m.event === 'pusher:pong')).toBe(true);
    } finally {
      clearInterval(pinger);
    }
  });

  // Regression: activity was once stamped with a coarse once-a-second clock, which made an
  // active client look a second old and closed it at the first sweep.
  it('keeps a client that subscribes every 100 ms open past inactivityTimeout', async ({ expect, onTestFinished }) => {
    const res = new TestResources();
    onTestFinished(() => res.dispose());
    const node = await res.node({ inactivityTimeout: 1 });
    const busy = await res.raw(node);
    await busy.event('pusher:connection_established');
    let n = 0;
    const subscriber = setInterval(() => busy.send({ event: 'pusher:subscribe', data: { channel: `keep-${n++}` } }), 100);
    try {
      await sleep(2500);
      expect(busy.closeCode).toBeUndefined();
    } finally {
      clearInterval(subscriber);
    }
  });

  it('closes with 4009 a socket that does not sign in within userAuthenticationTimeout, and keeps one that does', async ({ expect, onTestFinished }) => {
    const res = new TestResources();
    onTestFinished(() => res.dispose());
    const node = await res.node({ apps: [{ ...DEV_APP, userAuthenticationTimeout: 1 }] });
    const anonymous = await res.raw(node);
    const user = await res.raw(node);
    await user.event('pusher:connection_established');
    const userData = JSON.stringify({ id: 'ana' });
    user.send({ event: 'pusher:signin', data: { auth: signUserAuth(DEV_APP, user.socketId, userData), user_data: userData } });
    await user.event('pusher:signin_success');

    expect(await anonymous.closed(5000)).toBe(CloseCode.Unauthorized);
    expect(user.closeCode).toBeUndefined();
  });
});

describe('slow consumer', () => {
  const res = useTestResources();

  it('drops a socket that never reads, keeps its buffer bounded, and the reading subscriber gets everything', async () => {
    const maxSendBufferBytes = 64 * 1024;
    const node = await res.node({ maxSendBufferBytes, apps: [{ ...DEV_APP, maxEventPayloadKb: 128 }] });
    const sdk = serverSdk(node);
    const readerClient = res.pusher(node);
    const reader = await subscribed(readerClient, 'firehose');
    // Keep only the sequence numbers: holding the payloads would weigh on the RSS being measured.
    const received: number[] = [];
    reader.bind('blob', (event: { n: number }) => received.push(event.n));

    const stalled = res.adopt(await stalledSubscriber(node, 'firehose'));
    let stalledConn: Connection | undefined;
    await until(
      () => (stalledConn = [...node.core.connections].find((c) => c.id !== readerClient.connection.socket_id && channelCount(c) === 1)) !== undefined,
      3000,
      'the stalled socket to subscribe',
    );

    const payload = 'x'.repeat(100 * 1024);
    let published = 0;
    let largestBacklog = 0;
    const publish = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) {
        await sdk.trigger('firehose', 'blob', { n: published++, payload });
        // The transport's own count of unsent bytes (the stalled socket holds nearly all of them).
        largestBacklog = Math.max(largestBacklog, node.core.transport.stats().bytesQueued);
      }
    };
    // A first 10 MB warms the allocator and the HTTP path, so the RSS measured next is about retention only.
    await publish(100);
    const rssBefore = settledRss();
    await publish(400); // 40 MB more: far past the kernel buffers of a loopback socket
    await until(() => received.length === published, 15_000, 'every event at the reading subscriber');
    const rssGrowth = settledRss() - rssBefore;

    expect(stalledConn?.open).toBe(false);
    expect(node.core.transport.stats().slowConsumersClosed).toBe(1);
    // One turn may queue a frame past the limit before the flush notices: never more than that.
    expect(largestBacklog).toBeLessThanOrEqual(maxSendBufferBytes + 2 * (payload.length + 200));
    // The node did not keep the 40 MB the stalled socket never read.
    expect(rssGrowth).toBeLessThan(16 * 1024 * 1024);
    expect(received).toEqual(Array.from({ length: published }, (_, n) => n));

    await until(() => node.core.connections.size === 1, 5000, 'the node to let go of the stalled socket');
    stalled.resume();
    await withTimeout(once(stalled, 'close'), 5000, 'the stalled socket was not closed');
  }, 40_000);
});

const collectGarbage = ((): (() => void) => {
  // The test runner does not pass --expose-gc; enable it for this process and fetch the function.
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/** RSS after a full collection, so that garbage from the HTTP requests is not counted as retained. */
function settledRss(): number {
  collectGarbage();
  return process.memoryUsage().rss;
}

/**
 * A WebSocket client over a plain TCP socket that completes the handshake, subscribes,
 * and then never reads another byte: the node's writes pile up in the kernel and then in its own buffer.
 */
async function stalledSubscriber(node: RunningNode, channel: string): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port: node.port });
  socket.on('error', () => undefined); // a reset after the node gives up on it is expected
  await once(socket, 'connect');
  const key = randomBytes(16).toString('base64');
  socket.write(
    `GET /app/${DEV_APP.key}?protocol=7 HTTP/1.1\r\nHost: 127.0.0.1:${node.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  // Give the node time to upgrade and admit before the first frame; nothing is read back.
  await sleep(100);
  socket.write(maskedTextFrame(JSON.stringify({ event: 'pusher:subscribe', data: { channel } })));
  return socket;
}

/** One client → server text frame (clients must mask, RFC 6455 §5.3). Payloads under 64 KiB. */
function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const mask = randomBytes(4);
  const header =
    payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length]) : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  const masked = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) masked[i] = payload[i]! ^ mask[i % 4]!;
  return Buffer.concat([header, mask, masked]);
}
