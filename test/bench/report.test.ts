import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
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
    const worse: BenchResults = { ...results, totals: { ...results.totals, latencyMs: { ...results.totals.latencyMs, p99: results.totals.latencyMs.p99 * 3 + 50 } } };
    const { html, regressions } = await renderReport(worse, results, 10);
    expect(regressions).toBeGreaterThanOrEqual(1);
    expect(html).toMatch(/REGRESSION/);
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
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
