import { once } from 'node:events';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppCatalog } from '../../src/apps/catalog.js';
import { createAppStore } from '../../src/apps/create.js';
import { AppManager } from '../../src/apps/manage.js';
import { AppStoreRefusal, type AppStore } from '../../src/apps/types.js';
import { configSchema } from '../../src/config/schema.js';
import { startNode, type RunningNode } from '../../src/node.js';
import { capturingLogger, createDatabase, databaseAvailable, storeQueries, type Dialect, type TestDatabase } from './db.js';

const catalogOptions = {
  ttlMs: 60_000,
  max: 1000,
  negativeTtlMs: 60_000,
  negativeMax: 100_000,
  queryTimeoutMs: 2000,
  breakerFailures: 3,
  breakerHalfOpenMs: 1000,
  outageLogMs: 60_000,
};

function storeFor(db: TestDatabase, schema: 'switchboard' | 'soketi' = 'switchboard'): AppStore {
  return createAppStore({
    apps: [],
    appStore: db.dialect,
    appStoreUrl: db.url,
    appStoreSchema: schema,
    appStoreTable: undefined,
    appStorePoolSize: 4,
    appStoreQueryTimeout: 2,
  });
}

/** Open a raw socket to /app/<key>; resolves with the first frame's event or the close code. */
async function tryConnect(node: RunningNode, key: string): Promise<{ event?: string; code?: number; ws: WebSocket }> {
  const ws = new WebSocket(`ws://127.0.0.1:${node.port}/app/${key}?protocol=7`);
  const first: { event?: string; code?: number } = await Promise.race([
    once(ws, 'message').then(([data]) => ({ event: (JSON.parse(String(data)) as { event: string }).event })),
    once(ws, 'close').then(([code]) => ({ code: code as number })),
  ]);
  if (first.event === 'pusher:error') {
    const [code] = await once(ws, 'close');
    return { code: code as number, ws };
  }
  return { ...first, ws };
}

for (const dialect of ['postgres', 'mysql'] as Dialect[]) {
  describe(`${dialect} app store`, async () => {
    const available = await databaseAvailable(dialect);
    let db: TestDatabase;
    let store: AppStore;
    let manager: AppManager;

    beforeAll(async () => {
      if (!available) return;
      db = await createDatabase(dialect);
      store = storeFor(db);
      manager = new AppManager(store, async () => {}, 3600);
      await store.migrate();
      await store.migrate(); // idempotent
    });
    afterAll(async () => {
      if (!available) return;
      await store.close();
      await db.drop();
    });

    it.skipIf(!available)('creates, lists, updates, rotates and deletes apps; conflicts and bad fields are refused', async () => {
      await manager.create({
        id: '1001',
        key: 'k-1001',
        secret: 's-1001',
        maxConnections: 5,
        webhooks: [{ url: 'http://127.0.0.1:9/hook', eventTypes: ['channel_occupied'] }],
      });
      await expect(manager.create({ id: '1001', key: 'other', secret: 'x' })).rejects.toMatchObject({ reason: 'conflict' });
      await expect(manager.create({ id: '1002', key: 'k-1001', secret: 'x' })).rejects.toMatchObject({ reason: 'conflict' });
      await expect(manager.create({ id: '1003', key: 'k-1003', secret: 'x', maxConnections: -1 })).rejects.toMatchObject({ reason: 'invalid' });
      const shown = await manager.show('1001');
      expect(shown).toMatchObject({ ok: true, app: { id: '1001', key: 'k-1001', maxConnections: 5, enabled: true } });
      if (shown.ok) expect(shown.app.webhooks[0]?.url).toBe('http://127.0.0.1:9/hook');
      const updated = await manager.update('1001', { maxConnections: 7, key: 'k-1001b' });
      expect(updated).toMatchObject({ maxConnections: 7, key: 'k-1001b' });
      expect((await store.findByKey('k-1001b'))?.ok).toBe(true);
      expect(await store.findByKey('k-1001')).toBeUndefined();
      const rotation = await manager.rotateSecret('1001', { secret: 'new-secret', graceSeconds: 60 });
      const rotated = await store.findById('1001');
      expect(rotated).toMatchObject({
        ok: true,
        app: { secret: 'new-secret', previousSecret: 's-1001', previousSecretExpiresAt: rotation.previousSecretExpiresAt },
      });
      expect((await manager.list()).map((s) => (s.ok ? s.app.id : s.id))).toEqual(['1001']);
      await manager.delete('1001');
      await expect(manager.delete('1001')).rejects.toMatchObject({ reason: 'not-found' });
      expect(await store.findById('1001')).toBeUndefined();
    });

    it.skipIf(!available)('a malformed settings JSON or a negative limit refuses that app with a reason naming it; the others work', async () => {
      await manager.create({ id: 'good', key: 'good-key', secret: 'good-secret' });
      await db.sql(
        `INSERT INTO switchboard_apps (id, ${dialect === 'mysql' ? '`key`' : '"key"'}, secret, enabled, settings, updated_at) VALUES ('badjson', 'badjson-key', 's', ${dialect === 'mysql' ? '1' : 'true'}, '{"webhooks": [', 0), ('negative', 'negative-key', 's', ${dialect === 'mysql' ? '1' : 'true'}, '{"maxConnections": -5}', 0)`,
      );
      const { logger, lines } = capturingLogger();
      const catalog = new AppCatalog(store, catalogOptions, logger);
      expect(await catalog.byKeyAsync('badjson-key')).toBeNull();
      expect(await catalog.byKeyAsync('negative-key')).toBeNull();
      expect((await catalog.byKeyAsync('good-key'))?.id).toBe('good');
      const refusals = lines.filter((l) => String(l.msg).includes('refused'));
      expect(refusals.map((l) => l.appId)).toEqual(['badjson', 'negative']);
      expect(String(refusals[0]?.reason)).toContain('settings is not valid JSON');
      expect(String(refusals[1]?.reason)).toContain('maxConnections');
      // The listing shows them as invalid rather than failing.
      const listed = await manager.list();
      expect(
        listed
          .filter((s) => !s.ok)
          .map((s) => (s.ok ? '' : s.id))
          .sort(),
      ).toEqual(['badjson', 'negative']);
    });

    it.skipIf(!available)('unknown keys are cached negatively and concurrent misses for one key make one query', async () => {
      const catalog = new AppCatalog(store, catalogOptions, capturingLogger().logger);
      const before = await storeQueries();
      const keys = Array.from({ length: 300 }, (_, i) => `unknown-${i}`);
      for (let round = 0; round < 3; round++) await Promise.all(keys.map((k) => catalog.byKeyAsync(k)));
      expect((await storeQueries()) - before).toBe(300);
      for (const k of keys) expect(catalog.peekKey(k)).toBeNull();

      const flightBefore = await storeQueries();
      const answers = await Promise.all(Array.from({ length: 50 }, () => catalog.byKeyAsync('good-key')));
      expect(answers.every((a) => a?.id === 'good')).toBe(true);
      expect((await storeQueries()) - flightBefore).toBe(1);
      // While cached, the database sees no query for it.
      for (let i = 0; i < 100; i++) expect(catalog.peekKey('good-key')?.id).toBe('good');
      await catalog.byKeyAsync('good-key');
      expect((await storeQueries()) - flightBefore).toBe(1);
    });

    it.skipIf(!available)("a node serves the store's apps: known key connects, unknown 4001, disabled 4003; the API finds apps by id", async () => {
      await manager.create({ id: 'live', key: 'live-key', secret: 'live-secret' });
      await manager.create({ id: 'off', key: 'off-key', secret: 'off-secret', enabled: false });
      const config = configSchema.parse({ host: '127.0.0.1', port: 0, logLevel: 'silent', appStore: dialect, appStoreUrl: db.url });
      const node = await startNode(Object.freeze(config), capturingLogger('silent').logger);
      try {
        const ok = await tryConnect(node, 'live-key');
        expect(ok.event).toBe('pusher:connection_established');
        ok.ws.close();
        expect((await tryConnect(node, 'nope-key')).code).toBe(4001);
        expect((await tryConnect(node, 'off-key')).code).toBe(4003);
        const res = await fetch(`http://127.0.0.1:${node.port}/apps/missing/channels`);
        expect(res.status).toBe(404);
        const ready = (await (await fetch(`http://127.0.0.1:${node.port}/ready`)).json()) as { appStore: { up: boolean; store: string } };
        expect(ready.appStore).toMatchObject({ up: true, store: dialect });
      } finally {
        await node.stop({ drainSeconds: 0 });
      }
    });

    it.skipIf(!available)('a Soketi-shaped apps table is read as it is', async () => {
      const q = (c: string) => (dialect === 'mysql' ? `\`${c}\`` : `"${c}"`);
      await db.sql(
        `CREATE TABLE apps (id varchar(255) PRIMARY KEY, ${q('key')} varchar(255) NOT NULL, secret varchar(255) NOT NULL, max_connections integer NOT NULL, enable_client_messages smallint NOT NULL, ${q('enabled')} smallint NOT NULL, max_backend_events_per_sec integer NOT NULL, max_client_events_per_sec integer NOT NULL, max_read_req_per_sec integer NOT NULL, webhooks json, max_presence_members_per_channel integer DEFAULT NULL, max_presence_member_size_in_kb integer DEFAULT NULL, max_channel_name_length integer DEFAULT NULL, max_event_channels_at_once integer DEFAULT NULL, max_event_name_length integer DEFAULT NULL, max_event_payload_in_kb integer DEFAULT NULL, max_event_batch_size integer DEFAULT NULL, enable_user_authentication smallint NOT NULL)`,
      );
      await db.sql(
        `INSERT INTO apps (id, ${q('key')}, secret, max_connections, ${q('enabled')}, enable_client_messages, max_backend_events_per_sec, max_client_events_per_sec, max_read_req_per_sec, webhooks, max_presence_members_per_channel, max_event_batch_size, enable_user_authentication) VALUES ('app-id', 'app-key', 'app-secret', 200, 1, 1, -1, -1, 50, '[{"url":"http://127.0.0.1:9/h","event_types":["member_added"]}]', 42, NULL, 0), ('broken', 'broken-key', 's', -7, 1, 1, -1, -1, -1, '[]', NULL, NULL, 0)`,
      );
      const soketi = storeFor(db, 'soketi');
      try {
        const found = await soketi.findByKey('app-key');
        expect(found).toMatchObject({
          ok: true,
          app: {
            id: 'app-id',
            secret: 'app-secret',
            maxConnections: 200,
            enabled: true,
            enableClientEvents: true,
            maxBackendEventsPerSecond: 0,
            maxReadRequestsPerSecond: 50,
            maxPresenceMembersPerChannel: 42,
            maxBatchSize: 10,
            userAuthenticationTimeout: 0,
          },
        });
        if (found?.ok) expect(found.app.webhooks).toEqual([{ url: 'http://127.0.0.1:9/h', eventTypes: ['member_added'], headers: {} }]);
        expect(await soketi.findByKey('broken-key')).toMatchObject({ ok: false, id: 'broken', reason: expect.stringContaining('maxConnections') });
        // Written back in Soketi's shape: Soketi itself could keep reading it.
        const manager2 = new AppManager(soketi, async () => {}, 60);
        await manager2.create({ id: 'made-here', key: 'made-key', secret: 'made-secret', maxReadRequestsPerSecond: 9 });
        const raw = (await db.sql(`SELECT max_read_req_per_sec, max_connections, enabled FROM apps WHERE id = 'made-here'`)) as unknown;
        const row = dialect === 'mysql' ? (raw as [Array<Record<string, unknown>>])[0][0] : (raw as { rows: Array<Record<string, unknown>> }).rows[0];
        expect(row).toMatchObject({ max_read_req_per_sec: 9, max_connections: -1, enabled: 1 });
      } finally {
        await soketi.close();
      }
    });
  });
}

describe('static store', () => {
  it('answers management calls with a clear read-only error', async () => {
    const store = createAppStore({
      apps: [],
      appStore: 'static',
      appStoreUrl: undefined,
      appStoreSchema: 'switchboard',
      appStoreTable: undefined,
      appStorePoolSize: 1,
      appStoreQueryTimeout: 1,
    });
    const manager = new AppManager(store, async () => {}, 60);
    await expect(manager.create({ id: 'x', key: 'y', secret: 'z' })).rejects.toThrow(/read-only store/);
    await expect(store.migrate()).rejects.toBeInstanceOf(AppStoreRefusal);
  });
});
