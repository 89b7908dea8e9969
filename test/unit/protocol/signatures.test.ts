import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import Pusher from 'pusher';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  hmacSha256Hex,
  parsePresenceChannelData,
  parseUserData,
  safeEqual,
  signApiRequest,
  signChannelAuth,
  signUserAuth,
  verifyApiSignature,
  verifyChannelAuth,
  verifyUserAuth,
  webhookSignature,
  type ApiRequestParts,
} from '../../../src/protocol/signatures.js';

const APP = { id: '77', key: 'test-key', secret: 'test-secret' };
const SOCKET = '1234.5678';
const sdk = new Pusher({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1' });

describe('primitives', () => {
  test('hmacSha256Hex matches a known vector', () => {
    // RFC 4231 test case 2.
    expect(hmacSha256Hex('Jefe', 'what do ya want for nothing?')).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  test('safeEqual compares without throwing on length mismatch', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('', '')).toBe(true);
  });
});

describe('channel auth agrees with the pusher SDK', () => {
  test('private channel', () => {
    const { auth } = sdk.authorizeChannel(SOCKET, 'private-chat');
    expect(signChannelAuth(APP, SOCKET, 'private-chat')).toBe(auth);
    expect(verifyChannelAuth(APP, SOCKET, 'private-chat', auth)).toBe(true);
    expect(verifyChannelAuth(APP, '1234.5679', 'private-chat', auth)).toBe(false);
    expect(verifyChannelAuth(APP, SOCKET, 'private-other', auth)).toBe(false);
    expect(verifyChannelAuth({ key: APP.key, secret: 'other' }, SOCKET, 'private-chat', auth)).toBe(false);
    expect(verifyChannelAuth(APP, SOCKET, 'private-chat', undefined)).toBe(false);
    expect(verifyChannelAuth(APP, SOCKET, 'private-chat', '')).toBe(false);
  });

  test('presence channel signs the channel_data', () => {
    const { auth, channel_data } = sdk.authorizeChannel(SOCKET, 'presence-room', {
      user_id: '42',
      user_info: { name: 'Ann' },
    });
    expect(channel_data).toBeDefined();
    expect(verifyChannelAuth(APP, SOCKET, 'presence-room', auth, channel_data)).toBe(true);
    expect(verifyChannelAuth(APP, SOCKET, 'presence-room', auth, channel_data?.replace('Ann', 'Bob'))).toBe(false);
    // A presence signature made without channel_data must not admit anyone.
    const bare = signChannelAuth(APP, SOCKET, 'presence-room');
    expect(verifyChannelAuth(APP, SOCKET, 'presence-room', bare)).toBe(false);
  });

  test('user sign-in', () => {
    const { auth, user_data } = sdk.authenticateUser(SOCKET, { id: '42', watchlist: ['7'] });
    expect(signUserAuth(APP, SOCKET, user_data)).toBe(auth);
    expect(verifyUserAuth(APP, SOCKET, user_data, auth)).toBe(true);
    expect(verifyUserAuth(APP, SOCKET, user_data.replace('42', '43'), auth)).toBe(false);
  });

  test('webhook signature matches what the SDK verifies', () => {
    const body = JSON.stringify({ time_ms: 1, events: [{ name: 'channel_occupied', channel: 'news' }] });
    const webhook = sdk.webhook({
      headers: {
        'content-type': 'application/json',
        'x-pusher-key': APP.key,
        'x-pusher-signature': webhookSignature(APP.secret, body),
      },
      rawBody: body,
    });
    expect(webhook.isValid()).toBe(true);
    const forged = sdk.webhook({
      headers: { 'content-type': 'application/json', 'x-pusher-key': APP.key, 'x-pusher-signature': webhookSignature('x', body) },
      rawBody: body,
    });
    expect(forged.isValid()).toBe(false);
    expect(webhookSignature(APP.secret, Buffer.from(body))).toBe(webhookSignature(APP.secret, body));
  });
});

describe('parsePresenceChannelData', () => {
  test('normalises a numeric user_id and keeps user_info', () => {
    expect(parsePresenceChannelData('{"user_id":42,"user_info":{"name":"Ann"}}', 1024)).toEqual({
      ok: true,
      userId: '42',
      userInfo: { name: 'Ann' },
    });
    expect(parsePresenceChannelData('{"user_id":"a"}', 1024)).toEqual({ ok: true, userId: 'a', userInfo: undefined });
  });

  test.each([
    ['missing', undefined],
    ['not JSON', '{'],
    ['an array', '[]'],
    ['no user_id', '{"user_info":{}}'],
    ['an empty user_id', '{"user_id":""}'],
    ['an object user_id', '{"user_id":{}}'],
    ['a boolean user_id', '{"user_id":true}'],
    ['a string user_info', '{"user_id":"1","user_info":"x"}'],
  ])('rejects %s', (_label, input) => {
    const result = parsePresenceChannelData(input, 1024);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe('INVALID_CHANNEL_DATA');
  });

  test('rejects user_info over the size limit', () => {
    const result = parsePresenceChannelData(JSON.stringify({ user_id: '1', user_info: { bio: 'x'.repeat(100) } }), 50);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe('PRESENCE_USER_INFO_TOO_LARGE');
  });
});

describe('parseUserData', () => {
  test('reads id, user_info and watchlist', () => {
    expect(parseUserData('{"id":"1","user_info":{"a":1},"watchlist":["2","3"]}')).toEqual({
      ok: true,
      id: '1',
      userInfo: { a: 1 },
      watchlist: ['2', '3'],
    });
    expect(parseUserData('{"id":"1"}')).toEqual({ ok: true, id: '1', userInfo: undefined, watchlist: [] });
  });

  test('caps the watchlist at 100 entries', () => {
    const watchlist = Array.from({ length: 150 }, (_, i) => String(i));
    const result = parseUserData(JSON.stringify({ id: '1', watchlist }));
    expect(result.ok && result.watchlist).toEqual(watchlist.slice(0, 100));
  });

  test.each([
    ['not JSON', 'x'],
    ['no id', '{}'],
    ['a numeric id', '{"id":1}'],
    ['an empty id', '{"id":""}'],
    ['a non-array watchlist', '{"id":"1","watchlist":"2"}'],
    ['a watchlist of numbers', '{"id":"1","watchlist":[2]}'],
  ])('rejects %s', (_label, input) => {
    const result = parseUserData(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe('SIGNIN_INVALID');
  });
});

describe('HTTP API signatures from the real pusher SDK', () => {
  const captured: ApiRequestParts[] = [];
  const server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      captured.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  let client: Pusher;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    client = new Pusher({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1', port: String(port), useTLS: false });
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function captureNext(send: () => Promise<unknown>): Promise<ApiRequestParts> {
    const before = captured.length;
    await send();
    const request = captured[before];
    if (!request) throw new Error('the SDK request did not arrive');
    return request;
  }

  const now = () => Math.floor(Date.now() / 1000);

  test('a trigger (POST with a body) verifies, and tampering is caught', async () => {
    const request = await captureNext(() => client.trigger(['news', 'private-a'], 'update', { text: 'hé & = ?' }));
    expect(request.path).toBe(`/apps/${APP.id}/events`);
    expect(verifyApiSignature(request, APP, now())).toEqual({ ok: true });

    const otherBody = { ...request, body: Buffer.from(request.body.toString().replace('update', 'updatf')) };
    expect(verifyApiSignature(otherBody, APP, now())).toMatchObject({ ok: false, status: 401 });
    expect(verifyApiSignature({ ...request, path: '/apps/78/events' }, APP, now())).toMatchObject({ ok: false, status: 401 });
    expect(verifyApiSignature({ ...request, method: 'PUT' }, APP, now())).toMatchObject({ ok: false, status: 401 });
    expect(verifyApiSignature(request, { key: APP.key, secret: 'wrong' }, now())).toMatchObject({ ok: false, status: 401 });
    expect(verifyApiSignature(request, { key: 'other-key', secret: APP.secret }, now())).toMatchObject({ ok: false, status: 401 });
  });

  test('a GET with query parameters (comma and prefix values) verifies', async () => {
    const request = await captureNext(() =>
      client.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count,subscription_count' } }),
    );
    expect(request.method).toBe('GET');
    expect(request.body.length).toBe(0);
    expect(verifyApiSignature(request, APP, now())).toEqual({ ok: true });

    const changed = new URLSearchParams(request.query);
    changed.set('filter_by_prefix', 'private-');
    expect(verifyApiSignature({ ...request, query: changed }, APP, now())).toMatchObject({ ok: false, status: 401 });
  });

  test('timestamps beyond the allowed skew are refused', async () => {
    const request = await captureNext(() => client.trigger('news', 'e', 'd'));
    expect(verifyApiSignature(request, APP, now() + 601)).toMatchObject({ ok: false, status: 401 });
    expect(verifyApiSignature(request, APP, now() - 601)).toMatchObject({ ok: false, status: 401 });
    expect(verifyApiSignature(request, APP, now() + 30, 60)).toEqual({ ok: true });
  });
});

describe('signApiRequest', () => {
  const body = '{"name":"e","channels":["news"],"data":"x"}';
  const parts = (query: URLSearchParams, b = body): ApiRequestParts => ({
    method: 'POST',
    path: '/apps/77/events',
    query,
    body: Buffer.from(b),
  });

  test('produces requests the verifier accepts, like the SDK signing does', () => {
    const query = signApiRequest('POST', '/apps/77/events', {}, body, APP, 1_700_000_000);
    expect(verifyApiSignature(parts(query), APP, 1_700_000_000)).toEqual({ ok: true });
    // The SDK's own signer, fed the same timestamp through its public helper, agrees on every field.
    const sdkQuery = new URLSearchParams(sdk.createSignedQueryString({ method: 'POST', path: '/apps/77/events', body }));
    expect(verifyApiSignature(parts(sdkQuery), APP, Number(sdkQuery.get('auth_timestamp')))).toEqual({ ok: true });
  });

  test('missing or malformed auth parameters', () => {
    const signed = signApiRequest('POST', '/apps/77/events', {}, body, APP, 1_700_000_000);
    const without = (key: string) => {
      const q = new URLSearchParams(signed);
      q.delete(key);
      return q;
    };
    expect(verifyApiSignature(parts(without('auth_signature')), APP, 1_700_000_000)).toMatchObject({ ok: false, status: 401 });
    expect(verifyApiSignature(parts(without('body_md5')), APP, 1_700_000_000)).toMatchObject({ ok: false, status: 401 });
    const version = new URLSearchParams(signed);
    version.set('auth_version', '2.0');
    expect(verifyApiSignature(parts(version), APP, 1_700_000_000)).toMatchObject({ ok: false, status: 400 });
    const timestamp = new URLSearchParams(signed);
    timestamp.set('auth_timestamp', '1.7e9');
    expect(verifyApiSignature(parts(timestamp), APP, 1_700_000_000)).toMatchObject({ ok: false, status: 400 });
    const repeated = new URLSearchParams(signed);
    repeated.append('auth_key', APP.key);
    expect(verifyApiSignature(parts(repeated), APP, 1_700_000_000)).toMatchObject({ ok: false, status: 400 });
  });

  test('an empty body needs no body_md5, but a wrong one is refused', () => {
    const query = signApiRequest('GET', '/apps/77/channels', { info: 'user_count' }, '', APP, 1_700_000_000);
    expect(query.has('body_md5')).toBe(false);
    const emptyParts = { ...parts(query, ''), method: 'GET', path: '/apps/77/channels' };
    expect(verifyApiSignature(emptyParts, APP, 1_700_000_000)).toEqual({ ok: true });
    const withMd5 = new URLSearchParams(query);
    withMd5.set('body_md5', 'deadbeef');
    expect(verifyApiSignature({ ...emptyParts, query: withMd5 }, APP, 1_700_000_000)).toMatchObject({ ok: false, status: 401 });
  });

  test('refuses to let callers set the auth parameters', () => {
    expect(() => signApiRequest('GET', '/x', { auth_key: 'k' }, '', APP, 1)).toThrow();
  });
});

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
