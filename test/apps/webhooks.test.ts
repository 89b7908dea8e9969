import { once } from 'node:events';
import http from 'node:http';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppStore } from '../../src/apps/create.js';
import { AppManager } from '../../src/apps/manage.js';
import type { AppStore } from '../../src/apps/types.js';
import { configSchema } from '../../src/config/schema.js';
import { startNode, type RunningNode } from '../../src/node.js';
import { webhookSignature } from '../../src/protocol/signatures.js';
import { capturingLogger, createDatabase, databaseAvailable, type TestDatabase } from './db.js';

const available = await databaseAvailable('postgres');

describe.skipIf(!available)('webhooks of an app from the database store', () => {
  let db: TestDatabase;
  let store: AppStore;
  let node: RunningNode;
  let receiver: http.Server;
  const received: Array<{ signature: string; body: string }> = [];

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ signature: String(req.headers['x-pusher-signature']), body: Buffer.concat(chunks).toString('utf8') });
        res.end('{}');
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    const url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
    db = await createDatabase('postgres');
    store = createAppStore({
      apps: [],
      appStore: 'postgres',
      appStoreUrl: db.url,
      appStoreSchema: 'switchboard',
      appStoreTable: undefined,
      appStorePoolSize: 2,
      appStoreQueryTimeout: 2,
    });
    await store.migrate();
    await new AppManager(store, async () => {}, 60).create({
      id: 'hooked',
      key: 'hooked-key',
      secret: 'hooked-secret',
      webhooks: [{ url, eventTypes: ['channel_occupied'] }],
    });
    const config = configSchema.parse({ host: '127.0.0.1', port: 0, logLevel: 'silent', appStore: 'postgres', appStoreUrl: db.url, webhookBatchMs: 0 });
    node = await startNode(Object.freeze(config), capturingLogger('silent').logger);
  });

  afterAll(async () => {
    await node?.stop({ drainSeconds: 0 });
    await store?.close();
    await db?.drop();
    receiver?.close();
  });

  it("are delivered, signed with the app's secret, although the app was not known at start", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/app/hooked-key?protocol=7`);
    await once(ws, 'message');
    ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'orders' } }));
    const deadline = Date.now() + 5000;
    while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    ws.close();
    expect(received).toHaveLength(1);
    const body = JSON.parse(received[0]!.body) as { events: Array<{ name: string; channel: string }> };
    expect(body.events).toEqual([expect.objectContaining({ name: 'channel_occupied', channel: 'orders' })]);
    expect(received[0]!.signature).toBe(webhookSignature('hooked-secret', received[0]!.body));
  });
});
