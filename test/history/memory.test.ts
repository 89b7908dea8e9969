import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../../src/node.js';
import { DEV_APP, RawClient, connected, pusherClient, sleep, startTestNode, type PusherJs } from '../helpers/node.js';
import { eventsOn, publish, signedApi, subscribeRaw, until, type Frame } from './helpers.js';

// One node alone: history in memory, offsets assigned synchronously.

let node: RunningNode;
const raws: RawClient[] = [];
const pushers: PusherJs[] = [];

beforeAll(async () => {
  node = await startTestNode({
    apps: [
      {
        ...DEV_APP,
        history: [
          { pattern: 'chat-*', size: 5, ttlSeconds: 300 },
          { pattern: 'brief-*', size: 50, ttlSeconds: 1 },
        ],
      },
    ],
  });
});

afterEach(() => {
  for (const c of raws.splice(0)) c.close();
  for (const p of pushers.splice(0)) p.disconnect();
});

afterAll(async () => {
  await node.stop({ drainSeconds: 0 });
});

async function raw(): Promise<RawClient> {
  const c = await RawClient.connect(node);
  await c.event('pusher:connection_established');
  raws.push(c);
  return c;
}

describe('history channels, memory store', () => {
  it('gives every event an offset, increasing by one, and a stable epoch; other channels are untouched', async () => {
    const c = await raw();
    const first = await subscribeRaw(c, 'chat-offsets');
    expect(first.offset).toBe(0);
    expect(first.epoch).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(first.recovered).toBeUndefined();
    await subscribeRaw(c, 'plain-channel');
    for (let i = 1; i <= 3; i++) expect(await publish(node, 'chat-offsets', `m${i}`)).toBe(200);
    expect(await publish(node, 'plain-channel', 'p')).toBe(200);
    await until(() => eventsOn(c, 'chat-offsets').length === 3 && eventsOn(c, 'plain-channel').length === 1);
    const got = eventsOn(c, 'chat-offsets');
    expect(got.map((m) => [m.data, m.offset, m.epoch])).toEqual([1, 2, 3].map((i) => [`m${i}`, i, first.epoch]));
    // No extra fields on a channel without a rule.
    expect(Object.keys(eventsOn(c, 'plain-channel')[0]!).sort()).toEqual(['channel', 'data', 'event']);
  });

  it('recovers exactly the missed events, in order, before live ones', async () => {
    const a = await raw();
    const succeeded = await subscribeRaw(a, 'chat-recover');
    await publish(node, 'chat-recover', 'seen');
    await until(() => eventsOn(a, 'chat-recover').length === 1);
    const last = eventsOn(a, 'chat-recover')[0]!;
    a.close();
    for (const m of ['x1', 'x2', 'x3']) await publish(node, 'chat-recover', m);
    const b = await raw();
    const again = await subscribeRaw(b, 'chat-recover', { offset: last.offset, epoch: last.epoch });
    expect(again).toMatchObject({ recovered: true, offset: 4, epoch: succeeded.epoch });
    await publish(node, 'chat-recover', 'live');
    await until(() => eventsOn(b, 'chat-recover').length === 4);
    expect(eventsOn(b, 'chat-recover').map((m) => [m.data, m.offset])).toEqual([
      ['x1', 2],
      ['x2', 3],
      ['x3', 4],
      ['live', 5],
    ]);
    // The replay follows subscription_succeeded directly.
    const at = b.messages.indexOf(again);
    expect((b.messages[at + 1] as Frame).data).toBe('x1');
  });

  it('recovering from the position of subscription_succeeded (no event seen) works', async () => {
    const a = await raw();
    const position = await subscribeRaw(a, 'chat-quiet');
    a.close();
    await publish(node, 'chat-quiet', 'q1');
    const b = await raw();
    expect(await subscribeRaw(b, 'chat-quiet', { offset: position.offset, epoch: position.epoch })).toMatchObject({ recovered: true, offset: 1 });
    await until(() => eventsOn(b, 'chat-quiet').length === 1);
    expect(eventsOn(b, 'chat-quiet')[0]).toMatchObject({ data: 'q1', offset: 1 });
  });

  it('all or nothing: a wrong epoch, a gap beyond size, or an expired event gives recovered:false and no replay', async () => {
    const a = await raw();
    const p = await subscribeRaw(a, 'chat-big');
    for (let i = 0; i < 7; i++) await publish(node, 'chat-big', `e${i}`); // size is 5
    const b = await raw();
    const tooFar = await subscribeRaw(b, 'chat-big', { offset: 0, epoch: p.epoch });
    expect(tooFar).toMatchObject({ recovered: false, offset: 7, epoch: p.epoch });
    const c = await raw();
    expect(await subscribeRaw(c, 'chat-big', { offset: 6, epoch: 'other-epoch' })).toMatchObject({ recovered: false, offset: 7 });
    // Within size: recovered.
    const d = await raw();
    expect(await subscribeRaw(d, 'chat-big', { offset: 3, epoch: p.epoch })).toMatchObject({ recovered: true });
    await until(() => eventsOn(d, 'chat-big').length === 4);

    const e = await raw();
    const brief = await subscribeRaw(e, 'brief-1');
    e.close();
    await publish(node, 'brief-1', 'old');
    await sleep(1100); // ttlSeconds: 1
    await publish(node, 'brief-1', 'new');
    const f = await raw();
    expect(await subscribeRaw(f, 'brief-1', { offset: brief.offset, epoch: brief.epoch })).toMatchObject({ recovered: false, offset: 2 });
    await publish(node, 'brief-1', 'live');
    await until(() => eventsOn(f, 'brief-1').length === 1);
    await sleep(50);
    for (const client of [b, c, f]) expect(eventsOn(client, client === f ? 'brief-1' : 'chat-big').filter((m) => m.data !== 'live')).toEqual([]);
  });

  it('a recover on a channel without history: recovered:false and no position', async () => {
    const c = await raw();
    const s = await subscribeRaw(c, 'plain-recover', { offset: 3, epoch: 'abc' });
    expect(s.recovered).toBe(false);
    expect(s.offset).toBeUndefined();
    expect(s.epoch).toBeUndefined();
  });

  it('stock pusher-js receives history channel events unchanged', async () => {
    const client = pusherClient(node);
    pushers.push(client);
    await connected(client);
    const channel = client.subscribe('chat-pusherjs');
    await new Promise<void>((resolve) => channel.bind('pusher:subscription_succeeded', () => resolve()));
    const got: unknown[] = [];
    channel.bind('msg', (data: unknown) => got.push(data));
    for (let i = 0; i < 3; i++) await publish(node, 'chat-pusherjs', JSON.stringify({ n: i }));
    await until(() => got.length === 3);
    expect(got).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
  });
});

describe('history HTTP API', () => {
  it('lists events with limit, since and direction, signed like the rest', async () => {
    for (let i = 1; i <= 5; i++) await publish(node, 'chat-api', `a${i}`);
    const all = await signedApi(node, 'GET', '/channels/chat-api/history');
    expect(all.status).toBe(200);
    const body = JSON.parse(all.text) as { epoch: string; offset: number; events: Array<{ offset: number; event: string; data: string; time_ms: number }> };
    expect(body.offset).toBe(5);
    expect(body.events.map((e) => [e.offset, e.event, e.data])).toEqual([1, 2, 3, 4, 5].map((i) => [i, 'msg', `a${i}`]));
    expect(body.events[0]!.time_ms).toBeGreaterThan(Date.now() - 60_000);
    const page = JSON.parse((await signedApi(node, 'GET', '/channels/chat-api/history', { since: '2', limit: '2' })).text) as typeof body;
    expect(page.events.map((e) => e.offset)).toEqual([3, 4]);
    const back = JSON.parse((await signedApi(node, 'GET', '/channels/chat-api/history', { direction: 'backward', limit: '2' })).text) as typeof body;
    expect(back.events.map((e) => e.offset)).toEqual([5, 4]);
    const backSince = JSON.parse((await signedApi(node, 'GET', '/channels/chat-api/history', { direction: 'backward', since: '3' })).text) as typeof body;
    expect(backSince.events.map((e) => e.offset)).toEqual([5, 4]);
  });

  it('404 without a history rule, 400 for bad parameters, 401 unsigned', async () => {
    expect((await signedApi(node, 'GET', '/channels/plain-x/history')).status).toBe(404);
    const bad: Array<Record<string, string>> = [
      { limit: '0' },
      { limit: '1001' },
      { limit: 'x' },
      { since: '-1' },
      { since: '1e3' },
      { direction: 'sideways' },
    ];
    for (const params of bad) {
      const answer = await signedApi(node, 'GET', '/channels/chat-api/history', params);
      expect(answer.status, JSON.stringify(params)).toBe(400);
    }
    const { httpSend } = await import('./helpers.js');
    expect((await httpSend(node.port, 'GET', `/apps/${DEV_APP.id}/channels/chat-api/history`)).status).toBe(401);
  });
});
