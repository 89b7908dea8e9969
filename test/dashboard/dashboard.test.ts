import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../../src/node.js';
import { BrokerProcess, REDIS_BINARY, SERVICES_REQUIRED, serviceAvailable } from '../cluster/services.js';
import { useTestResources } from '../helpers/lifecycle.js';
import { connected, DEV_APP, nextEmit, serverSdk } from '../helpers/node.js';

const TOKEN = 'dashboard-test-token-0123456789';
const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && SERVICES_REQUIRED) throw new Error(`${CHROMIUM} not found and SWITCHBOARD_REQUIRE_SERVICES=1 (apt-get install -y chromium)`);
const SCREENSHOT_DIR = join(process.cwd(), 'test-results');

async function get(node: RunningNode, path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`http://127.0.0.1:${node.port}${path}`, { headers, redirect: 'manual' });
}

const bearer = { authorization: `Bearer ${TOKEN}` };

/** Poll an element's text from the test side: the page's CSP forbids the eval that waitForFunction needs. */
async function waitForText(page: Page, selector: string, ok: (text: string) => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    last = (await page.textContent(selector)) ?? '';
    if (ok(last)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${selector} never matched; last text: ${last.slice(0, 200)}`);
}

describe('the dashboard over HTTP', () => {
  const resources = useTestResources();

  it('does not exist without an admin token, and needs the token when there is one', async () => {
    const open = await resources.node();
    expect((await get(open, '/dashboard')).status).toBe(404);

    const node = await resources.node({ adminToken: TOKEN });
    const refused = await get(node, '/dashboard');
    expect(refused.status).toBe(401);
    expect(await refused.text()).toContain('name="token"');
    expect((await get(node, '/dashboard', { authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(401);
    expect((await get(node, '/dashboard/stream')).status).toBe(401);
    expect((await get(node, '/dashboard/api/apps/app-id/channels')).status).toBe(401);

    const page = await get(node, '/dashboard', bearer);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('Debug console');
    expect((await get(node, '/dashboard/assets/uplot.js', bearer)).status).toBe(200);
  });

  it('trades the token for a session cookie at the login form, and refuses a wrong one', async () => {
    const node = await resources.node({ adminToken: TOKEN });
    const post = (token: string) =>
      fetch(`http://127.0.0.1:${node.port}/dashboard/login`, { method: 'POST', body: new URLSearchParams({ token }), redirect: 'manual' });
    expect((await post('not-the-token-at-all')).status).toBe(401);
    const ok = await post(TOKEN);
    expect(ok.status).toBe(303);
    const cookie = ok.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect((await get(node, '/dashboard', { cookie: cookie.split(';')[0]! })).status).toBe(200);
  });

  it('publishes from the debug console only with its CSRF header, through the app\u2019s own checks', async () => {
    const node = await resources.node({ adminToken: TOKEN });
    const client = resources.pusher(node);
    await connected(client);
    const channel = client.subscribe('console-test');
    await nextEmit(channel, 'pusher:subscription_succeeded');
    const received = nextEmit(channel, 'greeting');
    const post = (headers: Record<string, string>, body: unknown) =>
      fetch(`http://127.0.0.1:${node.port}/dashboard/api/apps/app-id/events`, {
        method: 'POST',
        headers: { ...bearer, 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    expect((await post({}, { name: 'greeting', channel: 'console-test', data: '{}' })).status).toBe(401);
    expect((await post({ 'x-switchboard-dashboard': '1' }, { name: 'greeting', channels: 'not-an-array', data: '{}' })).status).toBe(400);
    expect((await post({ 'x-switchboard-dashboard': '1' }, { name: 'greeting', channel: 'console-test', data: '{"hi":1}' })).status).toBe(200);
    expect(await received).toEqual({ hi: 1 });
  });

  it('caps its feeds per node (503, counted as a limit trip)', async () => {
    const node = await resources.node({ adminToken: TOKEN, dashboardMaxViewers: 1 });
    const controller = new AbortController();
    const first = await fetch(`http://127.0.0.1:${node.port}/dashboard/stream`, { headers: bearer, signal: controller.signal });
    expect(first.status).toBe(200);
    const second = await get(node, '/dashboard/stream', bearer);
    expect(second.status).toBe(503);
    const metricsText = await (await get(node, '/metrics')).text();
    expect(metricsText).toMatch(/switchboard_limit_trips_total\{limit="dashboardMaxViewers"\} [1-9]/);
    controller.abort();
  });
});

describe.skipIf(!serviceAvailable(REDIS_BINARY, 'redis-server') || !haveChromium)('the dashboard in a browser, on a 2-node cluster', () => {
  const resources = useTestResources();
  let broker: BrokerProcess;
  let browser: Browser;

  beforeAll(async () => {
    broker = await BrokerProcess.start('redis');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await broker?.stop();
  });
  afterEach(() => resources.dispose());

  it('shows both nodes live, counts clients as they connect, and its console reaches a pusher-js client without subscribing', { timeout: 60_000 }, async () => {
    const cluster = {
      adapter: 'redis' as const,
      redisUrl: broker.url,
      keyPrefix: `dash${process.pid}`,
      heartbeatInterval: 0.25,
      nodeTimeout: 3,
      adminToken: TOKEN,
      apps: [{ ...DEV_APP, enableSubscriptionCount: true }],
    };
    const a = await resources.node({ ...cluster, nodeId: 'node-a' });
    const b = await resources.node({ ...cluster, nodeId: 'node-b' });

    const page = await browser.newPage({ viewport: { width: 1400, height: 1800 } });
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));

    // Signed out: the login form; the token takes the browser in.
    await page.goto(`http://127.0.0.1:${a.port}/dashboard`);
    await page.fill('#token', TOKEN);
    await Promise.all([page.waitForURL(`http://127.0.0.1:${a.port}/dashboard`), page.click('button[type=submit]')]);
    // The 401 of the first load is the browser's own console line, not the page's.
    problems.splice(0);

    await page.waitForSelector('#nodes tr[data-node-id="node-a"]');
    await page.waitForSelector('#nodes tr[data-node-id="node-b"]');
    await waitForText(page, '#feed-state', (t) => t === 'live');
    const totalConnections = async () => Number((await page.textContent('#total-connections'))?.replace(/,/g, ''));
    const before = await totalConnections();

    // Three clients on the other node: its heartbeats carry them to the page.
    const clients = [resources.pusher(b), resources.pusher(b), resources.pusher(b)];
    await Promise.all(clients.map((c) => connected(c)));
    await waitForText(page, '#total-connections', (t) => Number(t.replace(/,/g, '')) === before + 3);
    expect(await page.textContent('#nodes tr[data-node-id="node-b"] td.connections')).toBe('3');

    // The console watches a channel on node A while its only subscriber is on node B.
    const subscriber = clients[0]!;
    const channel = subscriber.subscribe('dash-console');
    await nextEmit(channel, 'pusher:subscription_succeeded');
    const received = nextEmit(channel, 'from-dashboard', 10_000);
    await page.selectOption('#console-app', DEV_APP.id);
    await page.fill('#console-channel', 'dash-console');
    await page.fill('#console-event', 'from-dashboard');
    await page.fill('#console-data', '{"n":42}');
    await page.click('#watch-button');
    await waitForText(page, '#console-status', (t) => t.startsWith('watching'));
    await page.click('#console-publish');
    expect(await received).toEqual({ n: 42 });
    await waitForText(page, '#watch-log', (t) => t.includes('from-dashboard'));

    // Watching is not subscribing: the channel still has exactly its one subscriber.
    const info = await serverSdk(a).get({ path: '/channels/dash-console', params: { info: 'subscription_count' } });
    expect(((await info.json()) as { subscription_count?: number }).subscription_count).toBe(1);

    // The other node's CPU, event-loop delay and memory come with its heartbeats (its monitor's samples).
    for (const column of [6, 8, 9]) {
      await waitForText(page, `#nodes tr[data-node-id="node-b"] td:nth-child(${column})`, (t) => t !== '' && t !== '–');
    }
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'dashboard.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });
});
