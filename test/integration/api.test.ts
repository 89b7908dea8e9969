import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Pusher from 'pusher';
import type {
  ChannelAuthorizationCallback,
  ChannelAuthorizationRequestParams,
  UserAuthenticationCallback,
  UserAuthenticationRequestParams,
} from 'pusher-js/types/src/core/auth/options.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpHandler } from '../../src/api/router.js';
import { configSchema } from '../../src/config/schema.js';
import { AppState } from '../../src/core/app-state.js';
import type { CoreApi } from '../../src/core/types.js';
import { metrics } from '../../src/metrics/index.js';
import { signApiRequest, signChannelAuth, signUserAuth } from '../../src/protocol/signatures.js';
import type { RunningNode } from '../../src/node.js';
import { createLogger } from '../../src/util/logger.js';
import { MemoryTransport } from '../helpers/memory-transport.js';
import { connected, DEV_APP, pusherClient, serverSdk, startTestNode, withTimeout, type PusherJs } from '../helpers/node.js';

const COUNTING_OFF_APP = { id: 'plain-app', key: 'plain-key', secret: 'plain-secret' } as const;
const DISABLED_APP = { id: 'off-app', key: 'off-key', secret: 'off-secret' } as const;
const MAX_HTTP_BODY = 4096;

let node: RunningNode;
let sdk: Pusher;
const clients: PusherJs[] = [];

beforeAll(async () => {
  node = await startTestNode({
    maxHttpBodyBytes: MAX_HTTP_BODY,
    apps: [
      { ...DEV_APP, maxChannelsPerPublish: 5, maxEventPayloadKb: 1, maxBatchSize: 3, enableSubscriptionCount: true },
      { ...COUNTING_OFF_APP },
      { ...DISABLED_APP, enabled: false },
    ],
  });
  sdk = serverSdk(node);
});

afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect();
});

afterAll(async () => {
  await node.stop({ drainSeconds: 0 });
});

// ---- helpers ------------------------------------------------------------------------------

interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** A plain HTTP request to a port on loopback. */
function send(port: number, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A request signed like the SDK signs it, with knobs the SDK would never turn. */
function signed(
  method: 'GET' | 'POST',
  path: string,
  body = '',
  options: { app?: { id: string; key: string; secret: string }; params?: Record<string, string>; now?: number } = {},
): Promise<HttpAnswer> {
  const app = options.app ?? DEV_APP;
  const fullPath = `/apps/${app.id}${path}`;
  const query = signApiRequest(method, fullPath, options.params ?? {}, body, app, options.now ?? Date.now() / 1000);
  const headers: Record<string, string> = body === '' ? {} : { 'content-type': 'application/json' };
  return send(node.port, method, `${fullPath}?${query}`, body === '' ? undefined : body, headers);
}

function errorOf(answer: HttpAnswer): string {
  return (JSON.parse(answer.text) as { error: string }).error;
}

/** A pusher-js client that can join private and presence channels and sign in as `userId`. */
function client(userId = 'u1'): PusherJs {
  const pusher = pusherClient(node, {
    channelAuthorization: {
      customHandler: ({ socketId, channelName }: ChannelAuthorizationRequestParams, callback: ChannelAuthorizationCallback) => {
        const channelData = channelName.startsWith('presence-') ? JSON.stringify({ user_id: userId, user_info: { name: userId } }) : undefined;
        callback(null, { auth: signChannelAuth(DEV_APP, socketId, channelName, channelData), ...(channelData ? { channel_data: channelData } : {}) });
      },
    },
    userAuthentication: {
      customHandler: ({ socketId }: UserAuthenticationRequestParams, callback: UserAuthenticationCallback) => {
        const userData = JSON.stringify({ id: userId });
        callback(null, { auth: signUserAuth(DEV_APP, socketId, userData), user_data: userData });
      },
    },
  } as never);
  clients.push(pusher);
  return pusher;
}

async function subscribed(pusher: PusherJs, channelName: string): Promise<void> {
  await connected(pusher);
  const channel = pusher.subscribe(channelName);
  if (channel.subscribed) return;
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      channel.bind('pusher:subscription_succeeded', () => resolve());
      channel.bind('pusher:subscription_error', (e: unknown) => reject(new Error(`subscription failed: ${JSON.stringify(e)}`)));
    }),
    5000,
    `no subscription to ${channelName}`,
  );
}

/** Events of one name on one channel, in arrival order. */
function record(pusher: PusherJs, channelName: string, eventName: string): unknown[] {
  const seen: unknown[] = [];
  pusher.channel(channelName).bind(eventName, (data: unknown) => seen.push(data));
  return seen;
}

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The body text of a rejected SDK call (the SDK surfaces it on `error.body`). */
async function sdkFailure(call: Promise<unknown>): Promise<{ status: number; error: string }> {
  try {
    await call;
  } catch (err) {
    const e = err as { status?: number; body?: string };
    return { status: e.status ?? 0, error: (JSON.parse(e.body ?? '{}') as { error: string }).error };
  }
  throw new Error('the call succeeded');
}

// ---- tests --------------------------------------------------------------------------------

describe('health, readiness and metrics', () => {
  it('answers liveness and readiness, refuses other methods and unknown paths', async () => {
    expect(await send(node.port, 'GET', '/health')).toMatchObject({ status: 200, text: '{"ok":true}' });
    // The body also carries the node's load report for balancers (src/balancer/node-load.ts).
    expect(JSON.parse((await send(node.port, 'GET', '/ready')).text)).toMatchObject({
      ready: true,
      load: { connections: expect.any(Number), elu: expect.any(Number), state: 'ready' },
    });

    const wrongMethod = await send(node.port, 'POST', '/health', '{}');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.allow).toBe('GET');
    expect(errorOf(wrongMethod)).toMatch(/Method not allowed/);

    const unknown = await send(node.port, 'GET', '/nowhere/at/all');
    expect(unknown.status).toBe(404);
    expect(unknown.headers['content-type']).toBe('application/json');
    expect(errorOf(unknown)).toMatch(/Not found/);
  });

  it('reports 503 while the node drains', async () => {
    let draining = false;
    const server = createServer(
      createHttpHandler({
        core: node.core,
        config: configSchema.parse({}),
        logger: createLogger('silent'),
        health: () => ({ ready: !draining, draining, detail: { connections: 0 } }),
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      expect(JSON.parse((await send(port, 'GET', '/ready')).text)).toEqual({ ready: true, connections: 0 });
      draining = true;
      const answer = await send(port, 'GET', '/ready');
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.text)).toEqual({ ready: false, draining: true, connections: 0 });
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('counts requests by route template, not by raw path', async () => {
    await sdk.trigger('metrics-channel', 'ping', {});
    await send(node.port, 'GET', '/apps/app-id/channels/some-channel-name-xyz');
    const answer = await send(node.port, 'GET', '/metrics');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toContain('text/plain');
    expect(answer.text).toMatch(/switchboard_http_api_requests_total\{route="\/apps\/:appId\/events",status="200"\} [1-9]/);
    expect(answer.text).toMatch(/route="\/apps\/:appId\/channels\/:channel",status="401"/);
    expect(answer.text).not.toContain('some-channel-name-xyz');
  });
});

describe('publishing with the pusher SDK', () => {
  it('delivers an event to pusher-js subscribers of every channel named, data intact', async () => {
    const subscriber = client();
    await subscribed(subscriber, 'news');
    await subscribed(subscriber, 'sport');
    const news = record(subscriber, 'news', 'headline');
    const sport = record(subscriber, 'sport', 'headline');

    const response = await sdk.trigger(['news', 'sport'], 'headline', { title: 'Ünïcode ✓', n: 1 });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({});
    await until(() => news.length === 1 && sport.length === 1, 'both deliveries');
    expect(news[0]).toEqual({ title: 'Ünïcode ✓', n: 1 });
    expect(sport[0]).toEqual({ title: 'Ünïcode ✓', n: 1 });
  });

  it('does not send the event back to the socket_id named by the publisher', async () => {
    const publisher = client();
    const other = client();
    await subscribed(publisher, 'room');
    await subscribed(other, 'room');
    const atPublisher = record(publisher, 'room', 'said');
    const atOther = record(other, 'room', 'said');

    await sdk.trigger('room', 'said', 'one', { socket_id: publisher.connection.socket_id });
    await sdk.trigger('room', 'said', 'two');
    await until(() => atOther.length === 2 && atPublisher.length === 1, 'deliveries');
    expect(atOther).toEqual(['one', 'two']);
    expect(atPublisher).toEqual(['two']);
  });

  it('publishes a batch, and publishes nothing when one item is invalid', async () => {
    const subscriber = client();
    await subscribed(subscriber, 'batch-a');
    await subscribed(subscriber, 'batch-b');
    const a = record(subscriber, 'batch-a', 'e');
    const b = record(subscriber, 'batch-b', 'e');

    const failure = await sdkFailure(
      sdk.triggerBatch([
        { channel: 'batch-a', name: 'e', data: 'never' },
        { channel: 'bad channel!', name: 'e', data: 'never' },
      ]),
    );
    expect(failure.status).toBe(400);
    expect(failure.error).toMatch(/batch\[1\]\.channel/);

    const ok = await sdk.triggerBatch([
      { channel: 'batch-a', name: 'e', data: 'first' },
      { channel: 'batch-b', name: 'e', data: { second: true } },
    ]);
    expect(await ok.json()).toEqual({ batch: [{}, {}] });
    await until(() => a.length === 1 && b.length === 1, 'batch deliveries');
    expect(a).toEqual(['first']);
    expect(b).toEqual([{ second: true }]);
  });

  it('refuses a batch larger than the app allows', async () => {
    const items = Array.from({ length: 4 }, () => ({ channel: 'c', name: 'e', data: 'x' }));
    const failure = await sdkFailure(sdk.triggerBatch(items));
    expect(failure).toEqual({ status: 400, error: expect.stringMatching(/4 events; this app allows 3/) });
  });

  it('returns the requested counts per channel and per batch item', async () => {
    const alice = client('alice');
    const bob = client('bob');
    const bobAgain = client('bob');
    for (const c of [alice, bob, bobAgain]) await subscribed(c, 'presence-lobby');
    await subscribed(alice, 'counted');

    const response = await sdk.trigger(['presence-lobby', 'counted'], 'hello', {}, { info: 'user_count,subscription_count' });
    expect(await response.json()).toEqual({
      channels: { 'presence-lobby': { user_count: 2, subscription_count: 3 }, counted: { subscription_count: 1 } },
    });

    const batch = await sdk.triggerBatch([
      { channel: 'presence-lobby', name: 'x', data: '', info: 'user_count' },
      { channel: 'nobody-here', name: 'x', data: '', info: 'subscription_count' },
      { channel: 'counted', name: 'x', data: '' },
    ]);
    expect(await batch.json()).toEqual({ batch: [{ user_count: 2 }, { subscription_count: 0 }, {}] });
  });

  it("sends to a signed-in user and terminates that user's connections", async () => {
    const user = client('carol');
    await connected(user);
    user.signin();
    await until(async () => (await node.core.getChannel(node.core.apps.get(DEV_APP.id)!, '#server-to-user-carol')) !== undefined, 'user channel');
    const got: unknown[] = [];
    user.user.bind('notice', (data: unknown) => got.push(data));

    await sdk.sendToUser('carol', 'notice', { text: 'hi carol' });
    await until(() => got.length === 1, 'the user event');
    expect(got[0]).toEqual({ text: 'hi carol' });

    const states: string[] = [];
    user.connection.bind('state_change', (s: { current: string }) => states.push(s.current));
    const response = await sdk.terminateUserConnections('carol');
    expect(await response.json()).toEqual({});
    await until(() => states.includes('disconnected') || states.includes('unavailable') || states.includes('failed'), 'the connection to close');
  });

  it('accepts user ids that the HTTP client percent-encodes in the path', async () => {
    // node-fetch sends the space as %20 while the SDK signed the raw id.
    const response = await sdk.terminateUserConnections('user with space');
    expect(response.status).toBe(200);
  });

  it('lists a channel literally named __proto__ like any other', async () => {
    const response = await sdk.trigger(['__proto__', 'other'], 'e', '', { info: 'subscription_count' });
    expect(await response.text()).toBe('{"channels":{"__proto__":{"subscription_count":0},"other":{"subscription_count":0}}}');
  });
});

describe('querying channels', () => {
  it('lists occupied channels, with user counts for presence prefixes', async () => {
    const dave = client('dave');
    await subscribed(dave, 'presence-q1');
    await subscribed(dave, 'plain-q1');

    const all = await sdk.get({ path: '/channels' });
    const listed = (await all.json()) as { channels: Record<string, unknown> };
    expect(listed.channels).toMatchObject({ 'presence-q1': {}, 'plain-q1': {} });

    const presence = await sdk.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } });
    expect(await presence.json()).toEqual({ channels: { 'presence-q1': { user_count: 1 } } });

    const refused = await sdkFailure(sdk.get({ path: '/channels', params: { info: 'user_count' } }));
    expect(refused).toEqual({ status: 400, error: expect.stringMatching(/filter_by_prefix=presence-/) });
  });

  it('describes one channel, its users, and refuses presence-only queries elsewhere', async () => {
    const erin = client('erin');
    const frank = client('frank');
    await subscribed(erin, 'presence-q2');
    await subscribed(frank, 'presence-q2');

    const info = await sdk.get({ path: '/channels/presence-q2', params: { info: 'user_count,subscription_count' } });
    expect(await info.json()).toEqual({ occupied: true, user_count: 2, subscription_count: 2 });

    const empty = await sdk.get({ path: '/channels/never-used', params: { info: 'subscription_count' } });
    expect(await empty.json()).toEqual({ occupied: false, subscription_count: 0 });

    const users = (await (await sdk.get({ path: '/channels/presence-q2/users' })).json()) as { users: Array<{ id: string }> };
    expect(users.users.map((u) => u.id).sort()).toEqual(['erin', 'frank']);

    expect(await sdkFailure(sdk.get({ path: '/channels/public-q2/users' }))).toMatchObject({ status: 400 });
    expect(await sdkFailure(sdk.get({ path: '/channels/public-q2', params: { info: 'user_count' } }))).toMatchObject({ status: 400 });
  });

  it('reports whether a cache channel holds an event', async () => {
    const before = await sdk.get({ path: '/channels/cache-q3', params: { info: 'cache' } });
    expect(await before.json()).toEqual({ occupied: false, cache: false });
    await sdk.trigger('cache-q3', 'e', 'kept');
    const after = await sdk.get({ path: '/channels/cache-q3', params: { info: 'cache' } });
    expect(await after.json()).toEqual({ occupied: false, cache: true });
  });

  it('leaves subscription_count out for an app without subscription counting', async () => {
    const plainSdk = serverSdk(node, COUNTING_OFF_APP);
    const answer = await plainSdk.get({ path: '/channels/anything', params: { info: 'subscription_count' } });
    expect(await answer.json()).toEqual({ occupied: false });
    const trigger = await plainSdk.trigger('anything', 'e', '', { info: 'subscription_count' });
    expect(await trigger.json()).toEqual({ channels: { anything: {} } });
  });
});

describe('refusing bad requests', () => {
  it('401 for a bad signature, a stale timestamp, a wrong key or missing auth', async () => {
    const body = JSON.stringify({ name: 'e', channels: ['c'], data: 'x' });
    const badSecret = await signed('POST', '/events', body, { app: { ...DEV_APP, secret: 'wrong' } });
    expect(badSecret.status).toBe(401);
    expect(errorOf(badSecret)).toMatch(/Invalid signature/);

    const stale = await signed('POST', '/events', body, { now: Date.now() / 1000 - 3600 });
    expect(stale.status).toBe(401);
    expect(errorOf(stale)).toMatch(/Timestamp expired/);

    const wrongKey = await signed('POST', '/events', body, { app: { ...DEV_APP, key: 'other-key' } });
    expect(wrongKey.status).toBe(401);

    const unsigned = await send(node.port, 'POST', '/apps/app-id/events', body, { 'content-type': 'application/json' });
    expect(unsigned.status).toBe(401);
    expect(errorOf(unsigned)).toMatch(/Missing authentication/);
  });

  it('404 for an unknown app, 403 for a disabled one', async () => {
    const unknown = await signed('GET', '/channels', '', { app: { id: 'no-such-app', key: 'k', secret: 's' } });
    expect(unknown.status).toBe(404);
    expect(errorOf(unknown)).toMatch(/no such app/);

    const disabled = await sdkFailure(serverSdk(node, DISABLED_APP).trigger('c', 'e', 'x'));
    expect(disabled).toEqual({ status: 403, error: 'App is disabled' });
  });

  it('400 for malformed JSON and invalid fields, with a message saying which', async () => {
    const cases: Array<[string, RegExp]> = [
      ['{"name":', /not valid JSON/],
      ['[1,2]', /must be a JSON object/],
      [JSON.stringify({ name: 'e', channels: ['c'], data: { not: 'a string' } }), /data must be a string/],
      [JSON.stringify({ name: 'e', channels: ['c'], data: 'x', socket_id: 'abc' }), /socket_id/],
      [JSON.stringify({ name: 'e', channels: ['a', 'b', 'c', 'd', 'e', 'f'], data: 'x' }), /6 channels; this app allows 5/],
      [JSON.stringify({ name: 'e', channels: ['private-encrypted-a', 'b'], data: 'x' }), /encrypted channel must name exactly one channel/],
      [JSON.stringify({ name: 'e', channels: ['bad channel'], data: 'x' }), /not a valid channel name/],
      [JSON.stringify({ name: 'x'.repeat(201), channels: ['c'], data: 'x' }), /name is longer than 200/],
      [JSON.stringify({ name: 'pusher_internal:member_added', channels: ['c'], data: 'x' }), /may not start with/],
      [JSON.stringify({ channels: ['c'], data: 'x' }), /name must be a non-empty string/],
      [JSON.stringify({ name: 'e', data: 'x' }), /channels is required/],
    ];
    for (const [body, message] of cases) {
      const answer = await signed('POST', '/events', body);
      expect({ body, status: answer.status }).toEqual({ body, status: 400 });
      expect(errorOf(answer)).toMatch(message);
    }
  });

  it('the SDK sees 400 for too many channels and 413 for data over the app limit', async () => {
    const tooMany = await sdkFailure(sdk.trigger(['a', 'b', 'c', 'd', 'e', 'f'], 'e', 'x'));
    expect(tooMany).toEqual({ status: 400, error: expect.stringMatching(/this app allows 5/) });

    const tooBig = await sdkFailure(sdk.trigger('c', 'e', 'x'.repeat(1025)));
    expect(tooBig).toEqual({ status: 413, error: expect.stringMatching(/1025 bytes; this app allows 1024/) });
    // Multi-byte characters count in bytes: 342 × 3 = 1026 bytes.
    expect(await sdkFailure(sdk.trigger('c', 'e', '€'.repeat(342)))).toMatchObject({ status: 413 });
    expect((await sdk.trigger('c', 'e', 'x'.repeat(1024 - 2))).status).toBe(200);
  });

  it('413 for a body over maxHttpBodyBytes, declared or streamed, without reading it all', async () => {
    const big = JSON.stringify({ name: 'e', channels: ['c'], data: 'x'.repeat(MAX_HTTP_BODY) });
    const declared = await signed('POST', '/events', big);
    expect(declared.status).toBe(413);
    expect(errorOf(declared)).toMatch(/Request body too large/);
    expect(declared.headers.connection).toBe('close');

    // Chunked, no Content-Length: the server must cut it off part-way.
    const streamed = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: node.port, method: 'POST', path: '/apps/app-id/events', headers: { 'transfer-encoding': 'chunked' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            req.destroy();
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() });
          });
        },
      );
      req.on('error', () => undefined);
      const chunk = Buffer.alloc(1024, 'x');
      let writes = 0;
      const pump = (): void => {
        // Bounded: at most 1 MiB, stopping as soon as the answer arrives.
        while (writes < 1024 && !req.destroyed) {
          writes++;
          if (!req.write(chunk)) {
            req.once('drain', pump);
            return;
          }
        }
      };
      pump();
      setTimeout(() => reject(new Error('no answer to a streamed oversized body')), 5000).unref();
    });
    expect(streamed.status).toBe(413);
    expect(errorOf({ status: 413, headers: {}, text: streamed.text })).toMatch(/Request body too large/);
  });

  it('400 for a path parameter that is not valid percent-encoding', async () => {
    const answer = await send(node.port, 'GET', '/apps/app-id/channels/%E0%A4%A');
    expect(answer.status).toBe(400);
  });
});

describe('faults', () => {
  let server: Server;
  let port: number;
  const throwingCore: CoreApi = {
    findApp: (id) =>
      id === DEV_APP.id ? new AppState(configSchema.parse({}).apps[0]!, { ttlSeconds: 60, maxChannels: 10 }, new MemoryTransport()) : undefined,
    publish: () => {
      throw new Error('core exploded');
    },
    listChannels: () => Promise.reject(new Error('core exploded')),
    getChannel: () => Promise.reject(new Error('core exploded')),
    getChannels: () => Promise.reject(new Error('core exploded')),
    hasCachedEvent: () => Promise.reject(new Error('core exploded')),
    presenceUserIds: () => Promise.reject(new Error('core exploded')),
    terminateUserConnections: () => Promise.reject(new Error('core exploded')),
  };

  beforeAll(async () => {
    server = createServer(
      createHttpHandler({
        core: throwingCore,
        config: configSchema.parse({}),
        logger: createLogger('silent'),
        health: () => ({ ready: true, draining: false }),
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('answers 500 with a JSON error and counts the fault when the core throws', async () => {
    const faultsBefore = (await metrics.handlerFaults.get()).values[0]?.value ?? 0;
    for (const [method, path, body] of [
      ['POST', '/apps/app-id/events', JSON.stringify({ name: 'e', channels: ['c'], data: 'x' })],
      ['GET', '/apps/app-id/channels', ''],
    ] as const) {
      const query = signApiRequest(method, path, {}, body, DEV_APP, Date.now() / 1000);
      const answer = await send(port, method, `${path}?${query}`, body === '' ? undefined : body);
      expect(answer.status).toBe(500);
      expect(JSON.parse(answer.text)).toEqual({ error: 'Internal server error' });
    }
    const faultsAfter = (await metrics.handlerFaults.get()).values[0]?.value ?? 0;
    expect(faultsAfter - faultsBefore).toBe(2);
    // The server is still serving.
    expect((await send(port, 'GET', '/health')).status).toBe(200);
  });
});
