import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, startReference, type ReferenceServer } from './helpers.js';

// The bench's own entry until `switchboard bench` is wired into dist/cli/main.js; `npm test` builds first.
const ENTRY = join(REPO, 'dist/cli/main.js');
const run = promisify(execFile);

async function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [ENTRY, 'bench', ...args], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('switchboard bench on the command line', () => {
  let server: ReferenceServer;
  let dir: string;
  beforeAll(async () => {
    server = await startReference('ws-raw');
    dir = await mkdtemp(join(tmpdir(), 'bench-cli-'));
  });
  afterAll(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const common = (): string[] => [
    '--driver',
    'ws-raw',
    '--url',
    server.url,
    '--subscribers',
    '20',
    '--rate',
    '20',
    '--duration',
    '1s',
    '--workers',
    '1',
    '--quiet',
  ];

  it('passes with exit 0, prints the summary and writes the results JSON with the command and machine', async () => {
    const out = join(dir, 'pass.json');
    const result = await bench(['fanout', ...common(), '--threshold', 'loss=0', '--threshold', 'p99<5s', '--out', out]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/deliv\/s/);
    expect(result.stdout).toMatch(/PASS/);
    const json = JSON.parse(await readFile(out, 'utf8')) as { schema: string; command: string[]; machine: { cpus: number }; totals: { delivered: number } };
    expect(json.schema).toBe('switchboard-bench/1');
    expect(json.command.join(' ')).toContain('--threshold loss=0');
    expect(json.machine.cpus).toBeGreaterThan(0);
    expect(json.totals.delivered).toBeGreaterThan(0);
  });

  it('a failed threshold exits 1 and says which', async () => {
    const result = await bench(['fanout', ...common(), '--threshold', 'p50<0.001ms']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/✗ p50<0.001ms/);
    expect(result.stdout).toMatch(/FAIL/);
  });

  it('a wrong URL exits 2 with a readable message', async () => {
    const result = await bench(['fanout', '--url', 'ws://127.0.0.1:1', '--duration', '1s', '--quiet']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/cannot reach ws:\/\/127\.0\.0\.1:1 .*ECONNREFUSED/);
  });

  it('bad usage exits 2', async () => {
    expect((await bench(['fanout', '--threshold', 'p99 about 5'])).code).toBe(2);
    expect((await bench(['fanout', '--url', 'http://x'])).stderr).toMatch(/ws:\/\//);
    expect((await bench(['nosuchscenario'])).code).toBe(2);
  });

  it('compare runs one scenario against several targets and prints ratios', async () => {
    const result = await bench([
      'compare',
      'fanout',
      '--target',
      `a=ws-raw:${server.url}`,
      '--target',
      `b=ws-raw:${server.url}`,
      '--subscribers',
      '10',
      '--rate',
      '10',
      '--duration',
      '1s',
      '--workers',
      '0',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^target/m);
    expect(result.stdout).toMatch(/^b .*\(×\d+\.\d\d\)/m);
  });
});
