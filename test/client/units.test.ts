import { describe, expect, it } from 'vitest';
import { Backoff, backoffCeiling, Channel, EndpointPool, parseEndpoints } from '../../packages/client/src/index.js';
import type { DiscontinuityEvent, RecoveryEvent } from '../../packages/client/src/index.js';
import type { ChannelHost } from '../../packages/client/src/channels.js';
import { closeAction, decodeFrame, FrameError, normaliseEndpoint } from '../../packages/client/src/protocol.js';
import { seededRandom } from '../helpers/prng.js';

describe('full-jitter backoff', () => {
  it('ceilings double from 0.5 s to a 20 s cap, and every delay lies in [0, ceiling)', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 50].map((n) => backoffCeiling(n))).toEqual([500, 1000, 2000, 4000, 8000, 16000, 20000, 20000, 20000]);
    const backoff = new Backoff();
    for (let n = 0; n < 40; n++) {
      const delay = backoff.next();
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(backoffCeiling(n));
    }
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.next()).toBeLessThan(500);
  });

  it('has jitter: clients that failed together spread over the whole interval instead of returning at once', () => {
    // 1,000 clients, each on its first retry after the same failure.
    const delays = Array.from({ length: 1000 }, () => new Backoff().next());
    const buckets = [0, 0, 0, 0, 0];
    for (const d of delays) buckets[Math.floor(d / 100)]!++;
    // Uniform over [0, 500): each 100 ms fifth holds about 200 of them.
    for (const count of buckets) expect(count).toBeGreaterThan(120);
    expect(new Set(delays).size).toBeGreaterThan(300);
  });
});

function poolWith(srtts: Record<string, number | null>, seed = 7): EndpointPool {
  const pool = new EndpointPool(Object.keys(srtts), seededRandom(seed));
  for (const [url, rtt] of Object.entries(srtts)) if (rtt !== null) pool.sample(url, rtt);
  return pool;
}

describe('endpoint choice (best of two random healthy endpoints)', () => {
  it('never puts a slow endpoint first while two fast ones exist, and splits between the fast ones', () => {
    const pool = poolWith({ 'ws://slow:1': 300, 'ws://a:1': 5, 'ws://b:1': 6 });
    const first: Record<string, number> = {};
    for (let i = 0; i < 2000; i++) {
      const url = pool.order()[0]!;
      first[url] = (first[url] ?? 0) + 1;
    }
    expect(first['ws://slow:1']).toBeUndefined();
    expect(first['ws://a:1']).toBeGreaterThan(600);
    expect(first['ws://b:1']).toBeGreaterThan(600);
  });

  it('spreads clients over many equal endpoints instead of herding onto the fastest', () => {
    const urls = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`ws://n${i}:1`, 10 + i * 0.1]));
    const pool = poolWith(urls);
    const first = new Map<string, number>();
    for (let i = 0; i < 5000; i++) {
      const url = pool.order()[0]!;
      first.set(url, (first.get(url) ?? 0) + 1);
    }
    // The fastest gets the most but nowhere near all; every endpoint but the slowest gets some.
    expect(Math.max(...first.values())).toBeLessThan(1500);
    expect(first.size).toBe(9);
  });

  it('a failed endpoint sits out (last in the order) until its penalty passes; a success clears it', () => {
    let clock = 1000;
    const pool = new EndpointPool(['ws://a:1', 'ws://b:1', 'ws://c:1'], seededRandom(3), () => clock);
    pool.failed('ws://a:1');
    for (let i = 0; i < 50; i++) expect(pool.order().at(-1)).toBe('ws://a:1');
    expect(pool.order()).toHaveLength(3);
    clock += 501;
    expect(pool.healthy().map((e) => e.url)).toContain('ws://a:1');
    pool.failed('ws://a:1');
    pool.failed('ws://a:1');
    expect(pool.get('ws://a:1')!.penaltyUntil - clock).toBe(2000);
    pool.succeeded('ws://a:1');
    expect(pool.get('ws://a:1')!.failures).toBe(0);
  });

  it('smooths RTT samples (1/8 gain) and ignores nonsense samples', () => {
    const pool = new EndpointPool(['ws://a:1']);
    pool.sample('ws://a:1', 80);
    pool.sample('ws://a:1', 160);
    expect(pool.get('ws://a:1')!.srtt).toBe(90);
    pool.sample('ws://a:1', -1);
    pool.sample('ws://a:1', Number.NaN);
    expect(pool.get('ws://a:1')!.srtt).toBe(90);
  });

  it("reads the balancer's /endpoints answer and drops what it cannot use", () => {
    const body = JSON.stringify({
      endpoints: [
        { url: 'ws://10.0.0.1:6001', address: '10.0.0.1:6001', weight: 1, connections: 4, elu: 0.25 },
        { url: 'javascript:alert(1)' },
        { url: 42 },
        null,
        { url: 'ws://10.0.0.2:6001', elu: 7 },
      ],
    });
    expect(parseEndpoints(body)).toEqual([
      { url: 'ws://10.0.0.1:6001', elu: 0.25 },
      { url: 'ws://10.0.0.2:6001', elu: null },
    ]);
    expect(parseEndpoints(body, true)[0]!.url).toBe('wss://10.0.0.1:6001');
    expect(() => parseEndpoints('<html>')).toThrow(/not JSON/);
    expect(() => parseEndpoints('{"endpoints":"x"}')).toThrow(/no endpoints array/);
    expect(normaliseEndpoint('https://h.example/ws/')).toBe('wss://h.example/ws');
    expect(normaliseEndpoint('h.example:6001')).toBe('ws://h.example:6001');
    expect(normaliseEndpoint('ws://has space')).toBeNull();
  });
});

describe('frames from the server', () => {
  it('decodes what pusher-js decodes and turns anything else into an error value, never a throw', () => {
    expect(decodeFrame('{"event":"e","channel":"c","data":"{\\"a\\":1}","offset":4,"epoch":"ep_1"}')).toEqual({
      event: 'e',
      channel: 'c',
      data: { a: 1 },
      offset: 4,
      epoch: 'ep_1',
    });
    expect(decodeFrame('{"event":"e","data":"plain text"}')).toEqual({ event: 'e', data: 'plain text' });
    for (const bad of ['not json', '[1,2]', 'null', '{"event":5}', '{"channel":"c"}', '{"event":"e","channel":7}', new Uint8Array([1, 2]), undefined]) {
      expect(decodeFrame(bad)).toBeInstanceOf(FrameError);
    }
    // Positions the client would not trust are dropped, the event itself kept.
    for (const offset of [-1, 1.5, '3', 2 ** 60, null]) expect(decodeFrame(JSON.stringify({ event: 'e', offset, epoch: 'x' }))).not.toHaveProperty('offset');
    for (const epoch of ['', 'a'.repeat(65), 'bad epoch!', 3])
      expect(decodeFrame(JSON.stringify({ event: 'e', offset: 1, epoch }))).not.toHaveProperty('epoch');
  });

  it("maps close codes to Pusher's ranges", () => {
    expect([4000, 4001, 4009, 4099, 4100, 4199, 4200, 4201, 4299, 1006, 1000, 4301].map(closeAction)).toEqual([
      'tls',
      'refused',
      'refused',
      'refused',
      'backoff',
      'backoff',
      'now',
      'now',
      'now',
      'failover',
      'failover',
      'failover',
    ]);
  });
});

/** A channel on a host that records what it sends and notifies (the recovery bookkeeping is pure). */
function channelOnRecorder(): { channel: Channel; sent: unknown[]; notified: Array<[string, RecoveryEvent | DiscontinuityEvent]>; events: number[] } {
  const sent: unknown[] = [];
  const notified: Array<[string, RecoveryEvent | DiscontinuityEvent]> = [];
  const host: ChannelHost = {
    send_event: (event, data) => sent.push({ event, data }) > 0,
    socketId: '1.1',
    authorizeChannel: () => undefined,
    notify: (event, data) => notified.push([event, data]),
    nacl: undefined,
  };
  const channel = new Channel('chat-1', host);
  const events: number[] = [];
  channel.bind('msg', (d: { n: number }) => events.push(d.n));
  return { channel, sent, notified, events };
}

describe('recovery bookkeeping on a channel', () => {
  it('drops repeats, heals a live gap by resubscribing with recover, and recovers from the last position after a reconnect', () => {
    const { channel, sent, notified, events } = channelOnRecorder();
    const succeeded: unknown[] = [];
    channel.bind('pusher:subscription_succeeded', (d: unknown) => succeeded.push(d));
    const msg = (offset: number, epoch = 'e1'): boolean => channel.handleEvent({ event: 'msg', channel: 'chat-1', data: { n: offset }, offset, epoch });
    channel.subscribe();
    channel.handleEvent({ event: 'pusher_internal:subscription_succeeded', channel: 'chat-1', data: {}, offset: 0, epoch: 'e1' });
    for (const offset of [1, 2, 2, 1, 3]) msg(offset);
    expect(events).toEqual([1, 2, 3]);
    // 4 and 5 never came: 6 is held back and the client asks for everything after 3 again.
    expect(msg(6)).toBe(false);
    expect(sent.at(-1)).toEqual({ event: 'pusher:subscribe', data: { channel: 'chat-1', recover: { offset: 3, epoch: 'e1' } } });
    expect(msg(7)).toBe(false);
    channel.handleEvent({ event: 'pusher_internal:subscription_succeeded', channel: 'chat-1', data: {}, offset: 7, epoch: 'e1', recovered: true });
    for (const offset of [4, 5, 6, 7]) msg(offset);
    expect(events).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(succeeded).toHaveLength(1);
    expect(notified).toEqual([['recovered', { channel: 'chat-1', missed: 4, offset: 7, epoch: 'e1' }]]);

    channel.disconnect();
    channel.subscribe();
    expect(sent.at(-1)).toEqual({ event: 'pusher:subscribe', data: { channel: 'chat-1', recover: { offset: 7, epoch: 'e1' } } });
    // recovered: true with the seam at 9: the replay 8, 9 comes first, then 'recovered'.
    channel.handleEvent({ event: 'pusher_internal:subscription_succeeded', channel: 'chat-1', data: {}, offset: 9, epoch: 'e1', recovered: true });
    expect(notified).toHaveLength(1);
    msg(8);
    expect(notified).toHaveLength(1);
    msg(9);
    expect(notified.at(-1)).toEqual(['recovered', { channel: 'chat-1', missed: 2, offset: 9, epoch: 'e1' }]);
    expect(channel.recovered).toBe(true);
    msg(1, 'e2');
    expect(notified.at(-1)![1]).toMatchObject({ reason: 'epoch_changed' });
    expect(events).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 1]);
  });

  it('a live gap the server cannot fill is a discontinuity with reason gap', () => {
    const { channel, notified, events } = channelOnRecorder();
    channel.subscribe();
    channel.handleEvent({ event: 'pusher_internal:subscription_succeeded', channel: 'chat-1', data: {}, offset: 0, epoch: 'e1' });
    channel.handleEvent({ event: 'msg', channel: 'chat-1', data: { n: 1 }, offset: 1, epoch: 'e1' });
    channel.handleEvent({ event: 'msg', channel: 'chat-1', data: { n: 5 }, offset: 5, epoch: 'e1' });
    channel.handleEvent({ event: 'pusher_internal:subscription_succeeded', channel: 'chat-1', data: {}, offset: 5, epoch: 'e1', recovered: false });
    channel.handleEvent({ event: 'msg', channel: 'chat-1', data: { n: 6 }, offset: 6, epoch: 'e1' });
    expect(events).toEqual([1, 6]);
    expect(notified).toEqual([['discontinuity', { channel: 'chat-1', reason: 'gap', from: { offset: 1, epoch: 'e1' }, to: { offset: 5, epoch: 'e1' } }]]);
  });

  it('a server that ignores recover (no recovered field) is reported as a discontinuity, not silence', () => {
    const { channel, notified } = channelOnRecorder();
    channel.position = { offset: 3, epoch: 'e1' };
    channel.subscribe();
    channel.handleEvent({ event: 'pusher_internal:subscription_succeeded', channel: 'chat-1', data: {} });
    expect(channel.recovered).toBe(false);
    expect(notified).toEqual([['discontinuity', { channel: 'chat-1', reason: 'unsupported', from: { offset: 3, epoch: 'e1' }, to: null }]]);
  });
});
