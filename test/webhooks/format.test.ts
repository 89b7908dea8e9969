import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfig } from '../../src/config/load.js';
import { webhookSignature } from '../../src/protocol/signatures.js';
import { createWebhooks } from '../../src/webhooks/index.js';
import type { WebhookEvent } from '../../src/webhooks/types.js';
import { APP, appWith, occupied, OTHER_APP, Pipelines, testLogger, validBySdk, webhookConfig } from './helpers.js';

const pipelines = new Pipelines();
afterEach(() => pipelines.dispose());

describe('webhook requests', () => {
  it("POSTs Pusher's body with the four headers exactly, signed over the body bytes, custom headers added but never overriding", async () => {
    const receiver = await pipelines.receiver();
    const config = webhookConfig({
      webhookBatchMs: 20,
      apps: [
        appWith([
          {
            url: receiver.url(),
            eventTypes: ['channel_occupied', 'member_added', 'client_event'],
            headers: {
              'X-Custom': 'yes',
              'content-type': 'text/plain',
              'X-PUSHER-KEY': 'forged',
              'x-pusher-signature': 'forged',
              'X-Switchboard-Webhook-Id': 'forged',
            },
          },
        ]),
      ],
    });
    const webhooks = await pipelines.start(config);
    const before = Date.now();
    const events: WebhookEvent[] = [
      occupied('private-a'),
      { name: 'member_added', channel: 'presence-a', user_id: 'u1' },
      { name: 'client_event', channel: 'private-a', event: 'client-x', data: '{"a":1}', socket_id: '1.2', user_id: 'u1' },
    ];
    for (const e of events) webhooks.emit(APP.id, e);

    const [req] = await receiver.waitFor(1);
    expect(req!.method).toBe('POST');
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.headers['x-pusher-key']).toBe(APP.key);
    expect(req!.headers['x-pusher-signature']).toBe(webhookSignature(APP.secret, req!.rawBody));
    expect(req!.headers['x-switchboard-webhook-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(req!.headers['x-custom']).toBe('yes');
    // Each reserved header was sent exactly once: the forged ones were dropped, not appended.
    for (const name of ['content-type', 'x-pusher-key', 'x-pusher-signature', 'x-switchboard-webhook-id']) {
      expect(req!.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === name)).toHaveLength(1);
    }
    expect(validBySdk(req!)).toBe(true);
    // The exact bytes: time_ms first, then the events as emitted.
    expect(req!.rawBody).toBe(`{"time_ms":${req!.body.time_ms},"events":${JSON.stringify(events)}}`);
    expect(req!.body.time_ms).toBeGreaterThanOrEqual(before);
    expect(req!.body.time_ms).toBeLessThanOrEqual(req!.at);
  });

  it('closes a batch at webhookBatchSize events and otherwise webhookBatchMs after its first event', async () => {
    const receiver = await pipelines.receiver();
    const webhooks = await pipelines.start(
      webhookConfig({ webhookBatchSize: 3, webhookBatchMs: 400, apps: [appWith([{ url: receiver.url(), eventTypes: ['channel_occupied'] }])] }),
    );
    const t0 = Date.now();
    for (let i = 0; i < 7; i++) webhooks.emit(APP.id, occupied(`c${i}`));
    const full = await receiver.waitFor(2);
    // Two full batches leave at once, long before the 400 ms window.
    expect(full.map((r) => r.body.events.map((e) => e.channel))).toEqual([
      ['c0', 'c1', 'c2'],
      ['c3', 'c4', 'c5'],
    ]);
    expect(full[1]!.at - t0).toBeLessThan(300);
    const [, , last] = await receiver.waitFor(3);
    expect(last!.body.events.map((e) => e.channel)).toEqual(['c6']);
    expect(last!.at - t0).toBeGreaterThanOrEqual(390);
    expect(new Set(receiver.requests.map((r) => r.headers['x-switchboard-webhook-id'])).size).toBe(3);
    for (const r of receiver.requests) expect(validBySdk(r)).toBe(true);
  });

  it('gives each endpoint only the events its eventTypes and filter select, each body signed over its own bytes', async () => {
    const receiver = await pipelines.receiver();
    const webhooks = await pipelines.start(
      webhookConfig({
        apps: [
          appWith([
            { url: receiver.url('/all'), eventTypes: ['channel_occupied', 'channel_vacated'] },
            { url: receiver.url('/presence'), eventTypes: ['channel_occupied'], filter: { channelNameStartsWith: 'presence-' } },
            { url: receiver.url('/both'), eventTypes: ['channel_occupied'], filter: { channelNameStartsWith: 'presence-', channelNameEndsWith: '-vip' } },
            { url: receiver.url('/members'), eventTypes: ['member_added'] },
          ]),
        ],
      }),
    );
    const events: WebhookEvent[] = [
      occupied('presence-room-vip'),
      occupied('presence-room'),
      occupied('private-x-vip'),
      { name: 'channel_vacated', channel: 'presence-room' },
    ];
    for (const e of events) webhooks.emit(APP.id, e);
    await receiver.waitFor(1, '/all');
    await receiver.waitFor(1, '/presence');
    await receiver.waitFor(1, '/both');
    await new Promise((r) => setTimeout(r, 100));
    const channels = (path: string) => receiver.at(path).flatMap((r) => r.body.events.map((e) => `${e.name}:${e.channel}`));
    expect(channels('/all')).toEqual(events.map((e) => `${e.name}:${e.channel}`));
    expect(channels('/presence')).toEqual(['channel_occupied:presence-room-vip', 'channel_occupied:presence-room']);
    expect(channels('/both')).toEqual(['channel_occupied:presence-room-vip']);
    expect(receiver.at('/members')).toHaveLength(0);
    const signatures = new Set(receiver.requests.map((r) => r.headers['x-pusher-signature']));
    expect(signatures.size).toBe(3);
    for (const r of receiver.requests) expect(validBySdk(r)).toBe(true);
  });

  it('never mixes two apps in one batch, even on the same URL, and signs each with its own secret', async () => {
    const receiver = await pipelines.receiver();
    const url = receiver.url('/shared');
    const webhooks = await pipelines.start(
      webhookConfig({ apps: [appWith([{ url, eventTypes: ['channel_occupied'] }]), appWith([{ url, eventTypes: ['channel_occupied'] }], OTHER_APP)] }),
    );
    webhooks.emit(APP.id, occupied('a1'));
    webhooks.emit(OTHER_APP.id, occupied('b1'));
    webhooks.emit(APP.id, occupied('a2'));
    const requests = await receiver.waitFor(2);
    const byKey = new Map(requests.map((r) => [r.headers['x-pusher-key'], r]));
    expect(byKey.get(APP.key)!.body.events.map((e) => e.channel)).toEqual(['a1', 'a2']);
    expect(byKey.get(OTHER_APP.key)!.body.events.map((e) => e.channel)).toEqual(['b1']);
    expect(validBySdk(byKey.get(APP.key)!, APP)).toBe(true);
    expect(validBySdk(byKey.get(OTHER_APP.key)!, OTHER_APP)).toBe(true);
    expect(validBySdk(byKey.get(OTHER_APP.key)!, APP)).toBe(false);
  });

  it('answers wants() from the configured event types per app', async () => {
    const webhooks = createWebhooks(
      webhookConfig({
        apps: [
          appWith([
            { url: 'http://127.0.0.1:9/a', eventTypes: ['member_added'] },
            { url: 'http://127.0.0.1:9/b', eventTypes: ['cache_miss'] },
          ]),
          { ...OTHER_APP },
        ],
      }),
      testLogger,
    );
    expect(webhooks.enabled).toBe(true);
    expect(webhooks.wants(APP.id, 'member_added')).toBe(true);
    expect(webhooks.wants(APP.id, 'cache_miss')).toBe(true);
    expect(webhooks.wants(APP.id, 'channel_occupied')).toBe(false);
    expect(webhooks.wants(OTHER_APP.id, 'member_added')).toBe(false);
    expect(webhooks.wants('no-such-app', 'member_added')).toBe(false);
  });

  it('costs nothing when no app has webhooks: disabled, no queue, emit and admin calls are no-ops', async () => {
    const webhooks = createWebhooks(webhookConfig({ apps: [{ ...APP }] }), testLogger);
    expect(webhooks.enabled).toBe(false);
    await webhooks.start();
    expect(webhooks.wants(APP.id, 'channel_occupied')).toBe(false);
    expect(() => webhooks.emit(APP.id, occupied('x'))).not.toThrow();
    expect(await webhooks.listDead(10)).toEqual([]);
    expect(await webhooks.replay()).toBe(0);
    await webhooks.stop();
  });

  it('emit never throws, even for an event that cannot be serialised', async () => {
    const receiver = await pipelines.receiver();
    // A batch window, so a bad event would sit in an open batch and fail later in a timer, where nothing catches it.
    const webhooks = await pipelines.start(webhookConfig({ webhookBatchMs: 50, apps: [appWith([{ url: receiver.url(), eventTypes: ['client_event'] }])] }));
    const bad = { name: 'client_event', channel: 'private-a', event: 'client-x', data: 1n as unknown as string, socket_id: '1.1' } as WebhookEvent;
    expect(() => webhooks.emit(APP.id, bad)).not.toThrow();
    webhooks.emit(APP.id, { name: 'client_event', channel: 'private-a', event: 'client-y', data: '{}', socket_id: '1.1' });
    const [req] = await receiver.waitFor(1);
    expect(req!.body.events).toEqual([{ name: 'client_event', channel: 'private-a', event: 'client-y', data: '{}', socket_id: '1.1' }]);
  });
});

describe('webhook configuration', () => {
  const load = (apps: unknown) => loadConfig({ env: { SWITCHBOARD_APPS: JSON.stringify(apps) } });
  const issues = (apps: unknown): string[] => {
    try {
      load(apps);
    } catch (err) {
      if (err instanceof ConfigError) return err.issues.map((i) => i.path);
      throw err;
    }
    return [];
  };

  it('refuses a non-http(s) URL and names its path', () => {
    expect(issues([appWith([{ url: 'ftp://example.com/hook', eventTypes: ['channel_occupied'] }])])).toContain('apps.0.webhooks.0.url');
    expect(
      issues([
        appWith([
          { url: 'http://ok.example/h', eventTypes: ['channel_occupied'] },
          { url: 'not a url', eventTypes: ['channel_occupied'] },
        ]),
      ]),
    ).toContain('apps.0.webhooks.1.url');
    expect(issues([appWith([{ url: 'https://ok.example/h', eventTypes: ['channel_occupied'] }])])).toEqual([]);
  });

  it("accepts Soketi's field names as they are", () => {
    const config = load([
      appWith([
        { url: 'https://ok.example/h', event_types: ['member_added'], filter: { channel_name_starts_with: 'presence-', channel_name_ends_with: '-x' } },
      ]),
    ]);
    const endpoint = config.apps[0]!.webhooks[0]!;
    expect(endpoint.eventTypes).toEqual(['member_added']);
    expect(endpoint.filter).toEqual({ channelNameStartsWith: 'presence-', channelNameEndsWith: '-x' });
    expect(createWebhooks(config, testLogger).wants(APP.id, 'member_added')).toBe(true);
  });
});
