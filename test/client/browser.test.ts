import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../../src/node.js';
import { DEV_APP, serverSdk, startTestNode } from '../helpers/node.js';
import { builtClient } from './built.js';
import { delayingProxy, HISTORY, type TestProxy } from './helpers.js';

// The script-tag build (dist/switchboard.min.js) in headless Chromium against a real node: the
// browser's own WebSocket, a history channel, and recovery after the network drops.
const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`client browser test: ${CHROMIUM} not found, skipping (apt-get install -y chromium)`);

describe.runIf(haveChromium)('the browser build in Chromium', () => {
  let node: RunningNode;
  let proxy: TestProxy;
  let page: Server;
  let browser: Browser;
  let pageUrl: string;

  beforeAll(async () => {
    node = await startTestNode({ apps: [{ ...DEV_APP, history: HISTORY }] });
    proxy = await delayingProxy(node.port);
    const script = readFileSync(builtClient('switchboard.min.js'));
    page = createServer((req, res) => {
      if (req.url === '/switchboard.min.js') {
        res.setHeader('content-type', 'text/javascript');
        res.end(script);
        return;
      }
      res.setHeader('content-type', 'text/html');
      const slow = req.url === '/slow';
      res.end(`<!doctype html><script src="/switchboard.min.js"></script><script>
        window.got = []; window.recovered = []; window.states = [];
        const client = new SwitchboardClient('${DEV_APP.key}', { wsHost: '127.0.0.1', wsPort: ${proxy.port}, forceTLS: false, enabledTransports: ['ws'], backoff: ${slow ? '{ minMs: 10000, maxMs: 10000 }, random: () => 0.99' : '{ minMs: 200, maxMs: 400 }'} });
        client.connection.bind('state_change', (s) => window.states.push(s.current));
        client.connection.bind('recovered', (e) => window.recovered.push(e));
        const channel = client.subscribe('chat-browser');
        channel.bind('msg', (d) => window.got.push(d.n));
        channel.bind('pusher:subscription_succeeded', () => { window.subscribed = (window.subscribed || 0) + 1; });
        window.client = client;
      </script>`);
    });
    page.listen(0, '127.0.0.1');
    await once(page, 'listening');
    pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    page?.close();
    proxy?.close();
    await node?.stop({ drainSeconds: 0 });
  });

  it('connects with the browser WebSocket, receives events with their positions, and recovers after a drop', async () => {
    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (e) => errors.push(e.message));
    await tab.goto(pageUrl);
    await tab.waitForFunction(() => (globalThis as unknown as { subscribed?: number }).subscribed === 1, undefined, { timeout: 10_000 });
    const sdk = serverSdk(node);
    for (let n = 0; n < 3; n++) await sdk.trigger('chat-browser', 'msg', { n });
    await tab.waitForFunction(() => (globalThis as unknown as { got: number[] }).got.length === 3, undefined, { timeout: 5000 });
    expect(
      await tab.evaluate(() => (globalThis as unknown as { client: { channel(n: string): { position: unknown } } }).client.channel('chat-browser').position),
    ).toMatchObject({ offset: 3 });

    proxy.cut(true);
    await tab.waitForFunction(
      () => (globalThis as unknown as { client: { connection: { state: string } } }).client.connection.state !== 'connected',
      undefined,
      { timeout: 5000 },
    );
    for (let n = 3; n < 6; n++) await sdk.trigger('chat-browser', 'msg', { n });
    proxy.unblock();
    await tab.waitForFunction(() => (globalThis as unknown as { recovered: unknown[] }).recovered.length === 1, undefined, { timeout: 10_000 });
    const state = (await tab.evaluate(() => {
      const w = globalThis as unknown as { got: number[]; recovered: unknown[]; states: string[]; client: { connection: { state: string } } };
      return { got: w.got, recovered: w.recovered, states: w.states, now: w.client.connection.state };
    })) as { got: number[]; recovered: Array<{ missed: number }>; states: string[]; now: string };
    expect(state.got).toEqual([0, 1, 2, 3, 4, 5]);
    expect(state.recovered[0]!.missed).toBe(3);
    expect(state.now).toBe('connected');
    expect(state.states).toEqual(expect.arrayContaining(['connecting', 'connected']));
    expect(errors).toEqual([]);
    await tab.close();
  });

  it("the browser's online event brings a retry that the backoff put ~10 s away forward", async () => {
    const tab = await browser.newPage();
    await tab.goto(`${pageUrl}slow`);
    await tab.waitForFunction(() => (globalThis as unknown as { subscribed?: number }).subscribed === 1, undefined, { timeout: 10_000 });
    proxy.cut(true);
    await tab.waitForFunction(
      () => (globalThis as unknown as { client: { connection: { state: string } } }).client.connection.state !== 'connected',
      undefined,
      { timeout: 5000 },
    );
    await new Promise((r) => setTimeout(r, 300));
    proxy.unblock();
    const started = Date.now();
    await tab.evaluate(() => (globalThis as unknown as { dispatchEvent(e: Event): void }).dispatchEvent(new Event('online')));
    await tab.waitForFunction(() => (globalThis as unknown as { subscribed?: number }).subscribed === 2, undefined, { timeout: 5000 });
    expect(Date.now() - started).toBeLessThan(3000);
    await tab.close();
  });
});
