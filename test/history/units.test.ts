import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { succeededWithPosition, withPosition } from '../../src/history/frames.js';
import { MemoryHistoryStore } from '../../src/history/memory-store.js';
import { parseRecover, planRecovery } from '../../src/history/recovery.js';
import { HistoryRules } from '../../src/history/rules.js';
import { parseClientFrame } from '../../src/protocol/client-frames.js';
import { seededRandom } from '../helpers/prng.js';

const RULE = { pattern: 'chat-*', size: 5, ttlMs: 60_000 };
const APP = { id: 'a', key: 'k', secret: 's' };

describe('history rules', () => {
  it('match whole names with * wildcards, first rule wins, regex characters are literal', () => {
    const rules = new HistoryRules(
      {
        history: [
          { pattern: 'chat-*', size: 10, ttlSeconds: 5 },
          { pattern: '*', size: 2, ttlSeconds: 1 },
        ],
      },
      1000,
    );
    expect(rules.match('chat-1')?.size).toBe(10);
    expect(rules.match('private-chat-1')?.size).toBe(2);
    const dotted = new HistoryRules({ history: [{ pattern: 'a.b', size: 1, ttlSeconds: 1 }] }, 1000);
    expect(dotted.match('a.b')).not.toBeNull();
    expect(dotted.match('axb')).toBeNull();
    expect(dotted.match('a.bc')).toBeNull();
  });

  it('cut a size over historyMaxSize down to it and say so', () => {
    const rules = new HistoryRules({ history: [{ pattern: 'x-*', size: 500, ttlSeconds: 1 }] }, 100);
    expect(rules.match('x-1')?.size).toBe(100);
    expect(rules.capped).toEqual(['x-*']);
  });
});

describe('history config', () => {
  const withHistory = { apps: [{ ...APP, history: [{ pattern: 'chat-*' }] }] };
  it('defaults a rule and refuses history in a cluster without a shared Redis, naming the option', () => {
    expect(configSchema.parse(withHistory).apps[0]!.history).toEqual([{ pattern: 'chat-*', size: 100, ttlSeconds: 300 }]);
    const nats = configSchema.safeParse({ ...withHistory, adapter: 'nats', natsUrl: 'nats://127.0.0.1:4222' });
    expect(nats.success).toBe(false);
    expect(JSON.stringify(nats.error?.issues)).toMatch(/historyRedisUrl/);
    const workers = configSchema.safeParse({ ...withHistory, workers: '2' });
    expect(JSON.stringify(workers.error?.issues)).toMatch(/historyRedisUrl/);
    expect(
      configSchema.safeParse({ ...withHistory, adapter: 'nats', natsUrl: 'nats://127.0.0.1:4222', historyRedisUrl: 'redis://127.0.0.1:6379' }).success,
    ).toBe(true);
    const shards = configSchema.safeParse({ ...withHistory, adapter: 'redis', redisUrl: 'redis://a:1,redis://b:2' });
    expect(JSON.stringify(shards.error?.issues)).toMatch(/historyRedisUrl/);
  });

  it('refuses bad rules', () => {
    for (const rule of [
      { pattern: '' },
      { pattern: 'a b' },
      { pattern: 'x', size: 0 },
      { pattern: 'x', size: 100_001 },
      { pattern: 'x', ttlSeconds: 0 },
      { pattern: 'x', other: 1 },
    ]) {
      expect(configSchema.safeParse({ apps: [{ ...APP, history: [rule] }] }).success, JSON.stringify(rule)).toBe(false);
    }
  });
});

describe('recover parsing and planning', () => {
  it('accepts only {offset: safe integer >= 0, epoch}', () => {
    expect(parseRecover(undefined)).toBeUndefined();
    expect(parseRecover(null)).toBeUndefined();
    expect(parseRecover({ offset: 3, epoch: 'abc' })).toEqual({ offset: 3, epoch: 'abc' });
    for (const bad of [
      'x',
      1,
      [],
      {},
      { offset: '3', epoch: 'a' },
      { offset: -1, epoch: 'a' },
      { offset: 2 ** 60, epoch: 'a' },
      { offset: NaN, epoch: 'a' },
      { offset: 1, epoch: '' },
      { offset: 1, epoch: 'a"b' },
    ]) {
      expect(parseRecover(bad), JSON.stringify(bad)).toBe('malformed');
    }
  });

  it('is all or nothing', () => {
    const events = [3, 4, 5].map((offset) => ({ offset, json: `{"o":${offset}}`, timeMs: 0 }));
    const read = { position: { epoch: 'e', offset: 5 }, events };
    expect(planRecovery({ offset: 2, epoch: 'e' }, read, RULE)).toEqual({ outcome: 'recovered', events });
    expect(planRecovery({ offset: 5, epoch: 'e' }, { ...read, events: [] }, RULE).outcome).toBe('recovered');
    expect(planRecovery({ offset: 2, epoch: 'f' }, read, RULE).outcome).toBe('epoch_mismatch');
    expect(planRecovery({ offset: 1, epoch: 'e' }, read, RULE)).toEqual({ outcome: 'gap_lost', events: [] }); // offset 2 is gone
    expect(planRecovery({ offset: 9, epoch: 'e' }, read, RULE).outcome).toBe('malformed');
    expect(planRecovery({ offset: 2, epoch: 'e' }, { ...read, events: [events[0]!, events[2]!] }, RULE).outcome).toBe('gap_lost');
    expect(planRecovery('malformed', read, RULE).outcome).toBe('malformed');
  });

  it('a subscribe with any recover value still parses as a subscribe (fuzz)', () => {
    const rnd = seededRandom(14);
    const atoms: unknown[] = [null, true, 0, -1, 1.5, 1e308, 'x', '', [], {}, { offset: 1 }, { epoch: 'e' }];
    for (let i = 0; i < 2000; i++) {
      const pick = (): unknown => atoms[Math.floor(rnd() * atoms.length)];
      const recover = rnd() < 0.5 ? pick() : { offset: pick(), epoch: pick(), extra: pick() };
      const parsed = parseClientFrame(JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'chat-1', recover } }));
      expect(parsed.ok).toBe(true);
      if (parsed.ok && parsed.message.kind === 'subscribe')
        expect(parsed.message.recover === undefined || parsed.message.recover === 'malformed' || typeof parsed.message.recover === 'object').toBe(true);
    }
  });
});

describe('history frames', () => {
  it('add offset, epoch and recovered as the last fields, the Pusher part unchanged', () => {
    expect(withPosition('{"event":"e","channel":"c","data":"d"}', 7, 'ep')).toBe('{"event":"e","channel":"c","data":"d","offset":7,"epoch":"ep"}');
    expect(succeededWithPosition('{"event":"s","channel":"c","data":"{}"}', { offset: 0, epoch: 'ep' }, true)).toBe(
      '{"event":"s","channel":"c","data":"{}","offset":0,"epoch":"ep","recovered":true}',
    );
    expect(succeededWithPosition('{"event":"s"}', null, false)).toBe('{"event":"s","recovered":false}');
  });
});

describe('memory store', () => {
  it('keeps the last size events, assigns offsets from 1, filters expired ones and reads both ways', () => {
    const delivered: number[] = [];
    const store = new MemoryHistoryStore((_a, _c, offset) => delivered.push(offset), { maxChannels: 10, metaTtlMs: 60_000 });
    for (let i = 0; i < 8; i++) store.publish('a', 'chat-1', RULE, '{"event":"m"}', undefined);
    expect(delivered).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const all = store.read('a', 'chat-1', RULE, { since: 0, limit: 100, direction: 'forward' });
    expect(all.position.offset).toBe(8);
    expect(all.events.map((e) => e.offset)).toEqual([4, 5, 6, 7, 8]);
    expect(store.read('a', 'chat-1', RULE, { since: 5, limit: 2, direction: 'backward' }).events.map((e) => e.offset)).toEqual([8, 7]);
    expect(store.read('a', 'chat-1', { ...RULE, ttlMs: -1 }, { since: 0, limit: 100, direction: 'forward' }).events).toEqual([]);
    // Channels beyond maxChannels lose their stream: a new epoch.
    const epoch = all.position.epoch;
    for (let i = 0; i < 10; i++) store.read('a', `chat-other-${i}`, RULE, { since: 0, limit: 0, direction: 'forward' });
    expect(store.read('a', 'chat-1', RULE, { since: 0, limit: 0, direction: 'forward' }).position).not.toEqual({ epoch, offset: 8 });
  });
});
