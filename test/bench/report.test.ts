import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runInNewContext } from 'node:vm';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReport } from '../../src/bench/report.js';
import type { BenchResults } from '../../src/bench/results.js';
import { runBenchmark } from '../../src/bench/run.js';
import { shortRun, startReference, type ReferenceServer } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`report.test: ${CHROMIUM} not found, skipping the browser check (apt-get install -y chromium)`);

describe('HTML report', () => {
  let server: ReferenceServer;
  let dir: string;
  let results: BenchResults;
  beforeAll(async () => {
    server = await startReference('ws-raw');
    dir = await mkdtemp(join(tmpdir(), 'bench-report-'));
    results = await runBenchmark(shortRun('fanout', 'ws-raw', server.url, { durationMs: 2500, serverPid: server.pid }));
  });
  afterAll(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('is one self-contained file and flags regressions against a baseline', async () => {
    const worse: BenchResults = {
      ...results,
      totals: { ...results.totals, latencyMs: { ...results.totals.latencyMs, p99: results.totals.latencyMs.p99 * 3 + 50 } },
    };
    const { html, regressions } = await renderReport(worse, results, 10);
    expect(regressions).toBeGreaterThanOrEqual(1);
    expect(html).toMatch(/REGRESSION/);
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
  });

  it('draws publishes/s on its own axis beside deliveries/s', async () => {
    const { html } = await renderReport(results, undefined, 10);
    expect(results.timeline.some((p) => p.publishesPerSec > 0)).toBe(true);
    // The page's chart script, run against a stand-in uPlot that records what it was asked to draw.
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1] ?? '');
    const dataJson = /<script id="bench-data" type="application\/json">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
    const drawn: Record<string, { series: Array<{ label: string; scale?: string }>; axes: Array<{ scale?: string; side?: number }> }> = {};
    const element = (id: string) => ({ id, dataset: {}, textContent: id === 'bench-data' ? dataJson : '' });
    const context = {
      document: { getElementById: element, body: { clientWidth: 1200 } },
      // biome-ignore lint/complexity/useArrowFunction: the page calls `new uPlot(...)`, and an arrow function cannot be constructed.
      uPlot: function (options: (typeof drawn)[string], _data: unknown, el: { id: string }) {
        drawn[el.id] = options;
      },
    };
    runInNewContext(scripts.at(-1) ?? '', context);
    const throughput = drawn['chart-throughput'];
    const publishes = throughput?.series.find((s) => s.label === 'publishes/s');
    const deliveries = throughput?.series.find((s) => s.label === 'deliveries/s');
    expect(publishes?.scale).toBeDefined();
    expect(deliveries?.scale).toBeUndefined();
    expect(throughput?.axes).toContainEqual(expect.objectContaining({ scale: publishes?.scale, side: 1 }));
  });

  it.skipIf(!haveChromium)('opens in headless Chromium without console errors and draws its charts', async () => {
    const { html } = await renderReport(results, undefined, 10);
    const file = join(dir, 'report.html');
    await writeFile(file, html);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      // Self-contained: any network request is a defect.
      await page.route('**/*', (route) => (route.request().url().startsWith('file:') ? route.continue() : route.abort()));
      await page.goto(pathToFileURL(file).href);
      await page.waitForSelector('#chart-throughput[data-drawn="true"] canvas', { timeout: 10_000 });
      expect(errors).toEqual([]);
      for (const id of ['chart-latency', 'chart-throughput', 'chart-connections', 'chart-cpu', 'chart-memory']) {
        expect(await page.locator(`#${id} canvas`).count(), id).toBe(1);
      }
      const box = await page.locator('#chart-latency canvas').boundingBox();
      expect(box?.width ?? 0).toBeGreaterThan(200);
    } finally {
      await browser.close();
    }
  });
});
