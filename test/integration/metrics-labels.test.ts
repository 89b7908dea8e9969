import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { LimitName } from '../../src/metrics/index.js';
import type { RunningNode } from '../../src/node.js';
import { DEV_APP, TestResources, serverSdk, signedSubscribe, withTimeout } from '../helpers/node.js';

// Every limit that trips shows on the node's /metrics as
// switchboard_limit_trips_total{limit="<config option>"}: an operator's alert
// names the setting to raise. Each case trips the limit for real, as a client would.

const resources = new TestResources();
afterEach(() => resources.dispose());

const LIMITED_APP = {
  ...DEV_APP,
  maxChannelsPerPublish: 2,
  maxBatchSize: 2,
  maxEventPayloadKb: 1,
  maxEventNameLength: 20,
  maxPresenceMemberSizeKb: 0.1,
};

function startLimited(overrides: Record<string, unknown> = {}): Promise<RunningNode> {
  return resources.node({ apps: [LIMITED_APP], ...overrides });
}

function http(port: number, method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The trips of `limit` as the node's /metrics shows them. */
async function trips(node: RunningNode, limit: LimitName): Promise<number> {
  const { text } = await http(node.port, 'GET', '/metrics');
  const line = text.split('\n').find((l) => l.startsWith(`switchboard_limit_trips_total{limit="${limit}"} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

/** The HTTP status an SDK call failed with. */
async function sdkStatus(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (err) {
    return (err as { status?: number }).status ?? -1;
  }
}

describe('limit trips on /metrics', () => {
  it('maxHttpBodyBytes: a body over it gets 413 and counts', async () => {
    const node = await startLimited({ maxHttpBodyBytes: 1024 });
    const before = await trips(node, 'maxHttpBodyBytes');
    const answer = await http(node.port, 'POST', `/apps/${DEV_APP.id}/events`, 'x'.repeat(2048));
    expect(answer.status).toBe(413);
    expect((await trips(node, 'maxHttpBodyBytes')) - before).toBe(1);
  });

  it('httpRequestTimeout: a request whose body never arrives gets 408 and counts', async () => {
    const node = await startLimited({ httpRequestTimeout: 1 });
    const before = await trips(node, 'httpRequestTimeout');
    const socket = connect(node.port, '127.0.0.1');
    resources.adopt(socket);
    socket.write(`POST /apps/${DEV_APP.id}/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"na`);
    let reply = '';
    socket.on('data', (c: Buffer) => (reply += c.toString('latin1')));
    await withTimeout(new Promise((resolve) => socket.on('close', resolve)), 5000, 'the stalled request was not answered');
    expect(reply).toMatch(/^HTTP\/1\.1 408/);
    expect((await trips(node, 'httpRequestTimeout')) - before).toBe(1);
  });

  it('maxChannelsPerPublish, maxBatchSize, maxEventPayloadKb, maxEventNameLength: refused publishes count', async () => {
    const node = await startLimited();
    const sdk = serverSdk(node);
    const cases: Array<[LimitName, () => Promise<unknown>, number]> = [
      ['maxChannelsPerPublish', () => sdk.trigger(['a', 'b', 'c'], 'e', {}), 400],
      ['maxBatchSize', () => sdk.triggerBatch([1, 2, 3].map((i) => ({ channel: `c${i}`, name: 'e', data: '{}' }))), 400],
      ['maxEventPayloadKb', () => sdk.trigger('a', 'e', 'x'.repeat(2000)), 413],
      ['maxEventNameLength', () => sdk.trigger('a', 'e'.repeat(21), {}), 400],
    ];
    for (const [limit, call, status] of cases) {
      const before = await trips(node, limit);
      expect(await sdkStatus(call()), limit).toBe(status);
      expect((await trips(node, limit)) - before, limit).toBe(1);
    }
  });

  it('maxEventNameLength: a client event with a long name counts', async () => {
    const node = await startLimited();
    const client = await resources.raw(node);
    await client.event('pusher:connection_established');
    client.send(signedSubscribe(client.socketId, 'private-room'));
    await client.event('pusher_internal:subscription_succeeded');
    const before = await trips(node, 'maxEventNameLength');
    client.send({ event: `client-${'x'.repeat(20)}`, channel: 'private-room', data: {} });
    await client.event('pusher:error');
    expect((await trips(node, 'maxEventNameLength')) - before).toBe(1);
  });

  it('maxPresenceMemberSizeKb: a presence subscription with oversized user_info counts', async () => {
    const node = await startLimited();
    const client = await resources.raw(node);
    await client.event('pusher:connection_established');
    const before = await trips(node, 'maxPresenceMemberSizeKb');
    client.send(signedSubscribe(client.socketId, 'presence-room', { presence: { user_id: 'u1', user_info: { bio: 'x'.repeat(500) } } }));
    await client.event('pusher:subscription_error');
    expect((await trips(node, 'maxPresenceMemberSizeKb')) - before).toBe(1);
  });

  it('inactivityTimeout: the 4202 close counts under the option, not the error code', async () => {
    const node = await startLimited({ inactivityTimeout: 1 });
    const before = await trips(node, 'inactivityTimeout');
    const client = await resources.raw(node);
    expect(await client.closed(5000)).toBe(4202);
    expect((await trips(node, 'inactivityTimeout')) - before).toBe(1);
  });

  it('maxFrameBytes: a frame over it is closed with 1009 and counts', async () => {
    const node = await startLimited({ maxFrameBytes: 1024 });
    const before = await trips(node, 'maxFrameBytes');
    const client = await resources.raw(node);
    await client.event('pusher:connection_established');
    client.ws.send('x'.repeat(4096));
    expect(await client.closed(5000)).toBe(1009);
    expect((await trips(node, 'maxFrameBytes')) - before).toBe(1);
  });
});

/** `switchboard_protocol_errors_total{code}` as /metrics shows it. */
async function protocolErrors(node: RunningNode, code: string): Promise<number> {
  const { text } = await http(node.port, 'GET', '/metrics');
  const line = text.split('\n').find((l) => l.startsWith(`switchboard_protocol_errors_total{code="${code}"} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

describe('protocol errors on /metrics', () => {
  it('are labelled by catalogue code, for pusher:error and pusher:subscription_error alike', async () => {
    const node = await startLimited();
    const client = await resources.raw(node);
    await client.event('pusher:connection_established');
    const unknownBefore = await protocolErrors(node, 'UNKNOWN_EVENT');
    const authBefore = await protocolErrors(node, 'SUBSCRIPTION_AUTH_FAILED');
    client.send({ event: 'pusher:nonsense', data: {} });
    await client.event('pusher:error');
    client.send({ event: 'pusher:subscribe', data: { channel: 'private-room', auth: `${DEV_APP.key}:bad` } });
    await client.event('pusher:subscription_error');
    expect((await protocolErrors(node, 'UNKNOWN_EVENT')) - unknownBefore).toBe(1);
    expect((await protocolErrors(node, 'SUBSCRIPTION_AUTH_FAILED')) - authBefore).toBe(1);
  });
});
