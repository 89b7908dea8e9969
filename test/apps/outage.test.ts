import { once } from 'node:events';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppStore } from '../../src/apps/create.js';
import { AppManager } from '../../src/apps/manage.js';
import type { AppStore } from '../../src/apps/types.js';
import { configSchema } from '../../src/config/schema.js';
import { metrics } from '../../src/metrics/index.js';
import { startNode, type RunningNode } from '../../src/node.js';
import { signApiRequest } from '../../src/protocol/signatures.js';
import { SERVICES_REQUIRED } from '../cluster/services.js';
import { capturingLogger } from './db.js';
import { PgProcess } from './pg-process.js';

const APP = { id: 'cached', key: 'cached-key', secret: 'cached-secret' };

async function attempt(node: RunningNode, key: string): Promise<{ code?: number; ws?: WebSocket; frames: string[] }> {
  const ws = new WebSocket(`ws://127.0.0.1:${node.port}/app/${key}?protocol=7`);
  const frames: string[] = [];
  ws.on('message', (d) => frames.push(String(d)));
  const first: string | number = await Promise.race([once(ws, 'message').then(() => 'message'), once(ws, 'close').then(([c]) => c as number)]);
  if (first === 'message' && frames[0]?.includes('connection_established')) return { ws, frames };
  const code = typeof first === 'number' ? first : ((await once(ws, 'close'))[0] as number);
  return { code, frames };
}

async function publish(node: RunningNode, channel: string, data: string): Promise<number> {
  const body = JSON.stringify({ name: 'ev', channel, data });
  const path = `/apps/${APP.id}/events`;
  const res = await fetch(`http://127.0.0.1:${node.port}${path}?${signApiRequest('POST', path, {}, body, APP, Date.now() / 1000)}`, { method: 'POST', body });
  return res.status;
}

async function ready(node: RunningNode): Promise<{ appStore: { up: boolean; breaker: string; lastError?: string } }> {
  return (await (await fetch(`http://127.0.0.1:${node.port}/ready`)).json()) as never;
}

async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let pgAvailable = true;
try {
  await import('node:child_process').then(({ execFileSync }) => execFileSync('initdb', ['--version']));
} catch {
  if (SERVICES_REQUIRED) throw new Error('initdb not found and SWITCHBOARD_REQUIRE_SERVICES=1');
  pgAvailable = false;
}

describe.skipIf(!pgAvailable)('the app database goes down mid-run', () => {
  let pg: PgProcess;
  let store: AppStore;
  let node: RunningNode;
  const { logger, lines } = capturingLogger('info');

  beforeAll(async () => {
    pg = await PgProcess.start();
    store = createAppStore({
      apps: [],
      appStore: 'postgres',
      appStoreUrl: pg.url,
      appStoreSchema: 'switchboard',
      appStoreTable: undefined,
      appStorePoolSize: 2,
      appStoreQueryTimeout: 1,
    });
    await store.migrate();
    await new AppManager(store, async () => {}, 60).create(APP);
    const config = configSchema.parse({
      host: '127.0.0.1',
      port: 0,
      logLevel: 'info',
      appStore: 'postgres',
      appStoreUrl: pg.url,
      appCacheTtl: 0.5,
      appCacheNegativeTtl: 0,
      appStoreBreakerFailures: 2,
      appStoreBreakerHalfOpen: 0.3,
      appStoreQueryTimeout: 1,
      appStoreOutageLogInterval: 600,
    });
    node = await startNode(Object.freeze(config), logger);
  }, 60_000);

  afterAll(async () => {
    await node?.stop({ drainSeconds: 0 });
    await store?.close();
    await pg?.destroy();
  });

  it('cached apps keep connecting and publishing, unknown keys are refused, /ready and a metric show it; all is back after the restart', async () => {
    const subscriber = await attempt(node, APP.key);
    expect(subscriber.ws).toBeDefined();
    subscriber.ws!.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'news' } }));
    await until(async () => subscriber.frames.some((f) => f.includes('subscription_succeeded')), 2000, 'subscribed');

    await pg.stop();
    // Past the cache TTL: every lookup now has to ask the dead database.
    await new Promise((r) => setTimeout(r, 700));
    for (let i = 0; i < 5; i++) {
      const again = await attempt(node, APP.key);
      expect(again.code, 'a cached app connects during the outage').toBeUndefined();
      again.ws!.close();
      expect(await publish(node, 'news', `during-${i}`)).toBe(200);
      expect((await attempt(node, `never-seen-${i}`)).code).toBe(4001);
    }
    await until(async () => subscriber.frames.filter((f) => f.includes('during-')).length === 5, 2000, 'events delivered during the outage');
    const status = await ready(node);
    expect(status.appStore.up).toBe(false);
    expect((await metrics.appStoreUp.get()).values[0]?.value).toBe(0);
    expect(lines.filter((l) => l.msg === 'app store unreachable: cached apps keep serving, unknown apps are refused')).toHaveLength(1);

    await pg.restart();
    const restartedAt = Date.now();
    await until(async () => (await ready(node)).appStore.up, 10_000, 'store back up');
    expect(Date.now() - restartedAt).toBeLessThan(10_000);
    expect((await metrics.appStoreUp.get()).values[0]?.value).toBe(1);
    expect(lines.some((l) => l.msg === 'app store reachable again')).toBe(true);
    // A new app works at once, without restarting the node.
    await new AppManager(store, async () => {}, 60).create({ id: 'fresh', key: 'fresh-key', secret: 's' });
    const fresh = await attempt(node, 'fresh-key');
    expect(fresh.ws).toBeDefined();
    fresh.ws!.close();
    subscriber.ws!.close();
  }, 60_000);
});
