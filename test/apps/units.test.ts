import { describe, expect, it } from 'vitest';
import { backendEventPoints } from '../../src/apps/rate-limits.js';
import { soketiRows, switchboardRows } from '../../src/apps/rows.js';
import { dialects } from '../../src/apps/sql-dialect.js';
import { decodeMessage, encodeMessage } from '../../src/cluster/messages.js';
import { appSchema } from '../../src/config/schema.js';
import { signUserAuth, verifyingSecrets, verifyUserAuth } from '../../src/protocol/signatures.js';

describe('which secrets verify', () => {
  const app = { key: 'k', secret: 'new', previousSecret: 'old', previousSecretExpiresAt: 10_000 };
  it('the previous secret until its expiry, then only the current one', () => {
    expect(verifyingSecrets(app, 9_999)).toEqual(['new', 'old']);
    expect(verifyingSecrets(app, 10_000)).toEqual(['new']);
    expect(verifyingSecrets({ key: 'k', secret: 'new' }, 0)).toEqual(['new']);
  });
  it('a sign-in signed with the old secret verifies during the grace, a wrong one never', () => {
    const live = { ...app, previousSecretExpiresAt: Date.now() + 60_000 };
    expect(verifyUserAuth(live, '1.2', '{"id":"u"}', signUserAuth({ key: 'k', secret: 'old' }, '1.2', '{"id":"u"}'))).toBe(true);
    expect(verifyUserAuth(live, '1.2', '{"id":"u"}', signUserAuth({ key: 'k', secret: 'other' }, '1.2', '{"id":"u"}'))).toBe(false);
    expect(
      verifyUserAuth({ ...live, previousSecretExpiresAt: Date.now() - 1 }, '1.2', '{"id":"u"}', signUserAuth({ key: 'k', secret: 'old' }, '1.2', '{"id":"u"}')),
    ).toBe(false);
  });
});

describe('app change announcements', () => {
  it('round-trip and are checked at the edge', () => {
    const message = { t: 'app-changed' as const, from: 'cli-1', app: '1001', keys: ['a', 'b'] };
    expect(decodeMessage(encodeMessage(message))).toEqual(message);
    expect(decodeMessage(JSON.stringify({ ...message, keys: 'a' }))).toBeNull();
    expect(decodeMessage(JSON.stringify({ ...message, app: 7 }))).toBeNull();
    expect(decodeMessage(JSON.stringify({ ...message, keys: Array.from({ length: 11 }, () => 'k') }))).toBeNull();
  });
});

describe('row mapping', () => {
  const base = {
    id: '1',
    key: 'k',
    secret: 's',
    max_connections: -1,
    enable_client_messages: 1,
    enabled: 0,
    max_backend_events_per_sec: -1,
    max_client_events_per_sec: 0,
    max_read_req_per_sec: 7,
    webhooks: null,
    enable_user_authentication: 1,
  };
  it('Soketi: -1 is no limit, 0 client events a second turns them off, sign-in required is 30 s', () => {
    expect(soketiRows.fromRow(base)).toMatchObject({
      ok: true,
      app: { maxConnections: 0, enabled: false, enableClientEvents: false, maxReadRequestsPerSecond: 7, webhooks: [], userAuthenticationTimeout: 30 },
    });
    expect(soketiRows.fromRow({ ...base, max_backend_events_per_sec: -2 })).toMatchObject({
      ok: false,
      id: '1',
      reason: expect.stringContaining('maxBackendEventsPerSecond'),
    });
    expect(soketiRows.fromRow({ ...base, webhooks: '[{' })).toMatchObject({ ok: false, reason: 'webhooks is not valid JSON' });
  });
  it('round-trips an app through both layouts', () => {
    const app = appSchema.parse({
      id: 'x',
      key: 'y',
      secret: 'z',
      maxConnections: 3,
      maxBackendEventsPerSecond: 4,
      webhooks: [{ url: 'http://h/x', eventTypes: ['client_event'] }],
    });
    expect(switchboardRows.fromRow(switchboardRows.toRow(app))).toEqual({ ok: true, app });
    expect(soketiRows.fromRow(soketiRows.toRow(app))).toMatchObject({
      ok: true,
      app: { maxConnections: 3, maxBackendEventsPerSecond: 4, webhooks: app.webhooks },
    });
  });
  it('a settings column that is not an object is refused', () => {
    expect(switchboardRows.fromRow({ id: 'a', key: 'b', secret: 'c', enabled: true, settings: '[1]' })).toMatchObject({
      ok: false,
      reason: 'settings must be a JSON object',
    });
  });
});

describe('backend event points', () => {
  it('one per channel of a trigger, one per event of a batch', () => {
    expect(backendEventPoints('events', { channels: ['a', 'b', 'c'] })).toBe(3);
    expect(backendEventPoints('events', { channel: 'a' })).toBe(1);
    expect(backendEventPoints('batchEvents', { batch: [{}, {}] })).toBe(2);
    expect(backendEventPoints('batchEvents', 'junk')).toBe(1);
  });
});

describe('sql dialects', () => {
  it('quote identifiers with the quote character doubled inside, and number placeholders only for postgres', () => {
    expect(dialects.postgres.quote('key')).toBe('"key"');
    expect(dialects.postgres.quote('a"b')).toBe('"a""b"');
    expect(dialects.mysql.quote('key')).toBe('`key`');
    expect(dialects.mysql.quote('a`b')).toBe('`a``b`');
    expect([1, 2].map((i) => dialects.postgres.param(i))).toEqual(['$1', '$2']);
    expect([1, 2].map((i) => dialects.mysql.param(i))).toEqual(['?', '?']);
  });

  it("know their driver's unique-key violation, and nothing else, as a conflict", () => {
    expect(dialects.postgres.isConflict({ code: '23505' })).toBe(true);
    expect(dialects.mysql.isConflict({ code: 'ER_DUP_ENTRY' })).toBe(true);
    expect(dialects.postgres.isConflict({ code: 'ER_DUP_ENTRY' })).toBe(false);
    expect(dialects.mysql.isConflict({ code: '23505' })).toBe(false);
    for (const d of Object.values(dialects)) for (const err of [null, undefined, 'boom', new Error('x')]) expect(d.isConflict(err)).toBe(false);
  });
});
