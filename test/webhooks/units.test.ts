import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../src/webhooks/attempt.js';
import { LogLimiter } from '../../src/webhooks/log-limiter.js';
import { buildRoutes, redactUrl } from '../../src/webhooks/routing.js';
import { appSchema } from '../../src/config/schema.js';

describe('webhook helpers', () => {
  it('reads Retry-After as seconds or an HTTP date, and ignores what it cannot read', () => {
    const now = Date.parse('2026-12-02T06:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Wed, 02 Dec 2026 06:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 02 Dec 2026 05:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('logs at most once per key and interval, with the number left out', () => {
    let t = 0;
    const limiter = new LogLimiter(10_000, () => t);
    const lines: Array<[string, number]> = [];
    const log = (key: string) => limiter.maybe(key, (n) => lines.push([key, n]));
    log('a');
    log('a');
    log('b');
    t = 9_999;
    log('a');
    t = 10_000;
    log('a');
    log('a');
    expect(lines).toEqual([
      ['a', 0],
      ['b', 0],
      ['a', 2],
    ]);
  });

  it('keys repeated URLs of an app apart, drops reserved custom headers, keeps credentials out of the log label', () => {
    const app = appSchema.parse({
      id: 'a',
      key: 'k',
      secret: 's',
      webhooks: [
        { url: 'https://user:pw@example.com/h?token=t', eventTypes: ['channel_occupied'], headers: { 'X-Pusher-Signature': 'x', 'User-Agent': 'mine' } },
        { url: 'https://user:pw@example.com/h?token=t', eventTypes: ['member_added'] },
      ],
    });
    const routes = buildRoutes([app, appSchema.parse({ id: 'none', key: 'k2', secret: 's' })]);
    expect([...routes.keys()]).toEqual(['a']);
    const [first, second] = routes.get('a')!.endpoints;
    expect(first!.key).not.toBe(second!.key);
    expect(first!.headers).toEqual({ 'User-Agent': 'mine' });
    expect(second!.headers).toEqual({ 'user-agent': 'Switchboard-Webhooks/1' });
    expect(first!.label).toBe('https://example.com/h');
    expect(redactUrl('nope')).toBe('<invalid url>');
    expect([...routes.get('a')!.wanted].sort()).toEqual(['channel_occupied', 'member_added']);
  });
});

describe('replayed dead letters', () => {
  it('start their time_ms and retry budget again, keeping id and events byte for byte', async () => {
    const { replayed } = await import('../../src/webhooks/batcher.js');
    const batch = {
      id: 'b1',
      appId: 'a',
      endpoint: 'a#u',
      body: '{"time_ms":1000,"events":[{"name":"channel_occupied","channel":"c"},{"name":"x","data":"]}"}]}',
      createdAt: 1000,
    };
    const again = replayed(batch, 5000);
    expect(again).toEqual({
      ...batch,
      createdAt: 5000,
      body: '{"time_ms":5000,"events":[{"name":"channel_occupied","channel":"c"},{"name":"x","data":"]}"}]}',
    });
    expect(JSON.parse(again.body)).toEqual({ ...JSON.parse(batch.body), time_ms: 5000 });
  });
});
