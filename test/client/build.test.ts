import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../../src/node.js';
import { startTestNode } from '../helpers/node.js';
import { builtClient, CLIENT_DIR, CORE_BUDGET_BYTES } from './built.js';

// The built package as users get it: the size budget of the browser core, and the ESM / CJS
// builds loaded by package name from a plain Node process (no test transform in between).
function runNode(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: CLIENT_DIR, env: { ...process.env, ...env }, timeout: 15_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1, stdout, stderr });
    });
  });
}

describe('the client package build', () => {
  let node: RunningNode;
  beforeAll(async () => {
    node = await startTestNode();
  });
  afterAll(async () => {
    await node?.stop({ drainSeconds: 0 });
  });

  it(`keeps the browser core under ${CORE_BUDGET_BYTES / 1024} KB min+gzip, and the browser builds never mention ws`, () => {
    const core = readFileSync(builtClient('switchboard.min.js'));
    const gzipped = gzipSync(core, { level: 9 }).length;
    console.log(`[client size] switchboard.min.js: ${core.length} B minified, ${gzipped} B gzip (budget ${CORE_BUDGET_BYTES})`);
    expect(gzipped).toBeLessThan(CORE_BUDGET_BYTES);
    for (const file of ['switchboard.min.js', 'index.browser.js'])
      expect(readFileSync(builtClient(file), 'utf8')).not.toMatch(/(import|require)\(\s*["']ws["']/);
  });

  it('the ESM build connects from plain Node 20 by package name, loading ws lazily; the CJS build and the echo entry load', async () => {
    const esm = await runNode(
      [
        '--input-type=module',
        '-e',
        [
          "import { SwitchboardClient } from '@switchboard/client';",
          "const c = new SwitchboardClient('app-key', { endpoints: [process.env.URL] });",
          "c.connection.bind('connected', () => { console.log(JSON.stringify({ socket: c.connection.socket_id })); c.disconnect(); });",
          "setTimeout(() => { console.log('timeout ' + c.connection.state); process.exit(1); }, 5000).unref();",
        ].join('\n'),
      ],
      { URL: `ws://127.0.0.1:${node.port}` },
    );
    expect(esm.code, esm.stderr + esm.stdout).toBe(0);
    expect(JSON.parse(esm.stdout.trim()).socket).toMatch(/^\d+\.\d+$/);
    builtClient('index.cjs');
    const cjs = await runNode([
      '-e',
      "const m = require('@switchboard/client'); const e = require('@switchboard/client/echo'); console.log(typeof m.SwitchboardClient, typeof m.default, typeof e.SwitchboardConnector, new m.SwitchboardClient('k', { autoConnect: false, endpoints: ['ws://127.0.0.1:1'] }).connection.state)",
    ]);
    expect(cjs.code, cjs.stderr).toBe(0);
    expect(cjs.stdout.trim()).toBe('function function function initialized');
  });
});
