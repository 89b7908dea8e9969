import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The package as a new user gets it: `npm pack`, then `npm install <tarball> --omit=dev` in an empty
// folder, then the `switchboard` bin and `import('switchboard')` from there. Nothing of the
// repository's own node_modules can be reached from that folder, so a runtime import of a
// devDependency fails here as it would for the user.

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const INSTALL_MS = 80_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// npm run under `npm test` exports npm_config_* (prefix, cache, omit...) that would point the
// nested npm back at the repository; the install must see a user's plain environment.
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!/^npm_/i.test(name)) env[name] = value;
  return env;
}

function run(command: string, args: string[], cwd: string, timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: cleanEnv(), timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Signal npx and the node it started (the whole process group). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

/** `switchboard start --port 0` from the installed package; resolves with the port it logged. */
const ADMIN_TOKEN = 'package-test-admin-token';

async function startInstalled(cwd: string): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  // Its own process group: npx runs the node as a child of its own, and a signal to npx alone would orphan it.
  const child = spawn('npx', ['--no-install', 'switchboard', 'start', '--port', '0', '--host', '127.0.0.1', '--admin-token', ADMIN_TOKEN], {
    cwd,
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup(child, 'SIGKILL');
      reject(new Error(`no listening line within 15 s:\n${output}`));
    }, 15_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /"port":(\d+).*switchboard node listening/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`switchboard start exited with ${code}:\n${output}`));
    });
  });
  return { child, port, output: () => output };
}

function firstMessage(url: string): Promise<{ event?: string; data?: string }> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no frame within 5 s')), 5000);
    ws.once('message', (data) => {
      clearTimeout(timer);
      ws.close();
      resolve(JSON.parse(String(data)) as { event?: string; data?: string });
    });
    ws.once('error', reject);
  });
}

// What only `switchboard bench` needs. Hidden while the server and the help run, which shows that
// they never load the bench (a static import of it would fail with ERR_MODULE_NOT_FOUND).
// uplot is not among them: the dashboard serves it too.
const BENCH_ONLY_PACKAGES = ['hdr-histogram-js', 'cli-progress'];

async function withoutBenchPackages<T>(app: string, body: () => Promise<T>): Promise<T> {
  const dirs = BENCH_ONLY_PACKAGES.map((name) => join(app, 'node_modules', name));
  for (const path of dirs) await rename(path, `${path}.hidden`);
  try {
    return await body();
  } finally {
    for (const path of dirs) await rename(`${path}.hidden`, path);
  }
}

describe('the npm package, installed into an empty folder', () => {
  let dir: string;
  let app: string;
  const npx = (args: string[], timeoutMs?: number): Promise<Run> => run('npx', ['--no-install', 'switchboard', ...args], app, timeoutMs);
  // The same bin without npx's own start-up, for the checks that need not go through npx.
  const bin = (args: string[], timeoutMs?: number): Promise<Run> =>
    run(process.execPath, [join(app, 'node_modules/.bin/switchboard'), ...args], app, timeoutMs);

  beforeAll(async () => {
    // The tarball is packed from dist/ without running `prepare`: a build racing other test files
    // that run dist/ would make them flaky. `npm test` builds first; a stale dist fails here.
    const built = join(REPO, 'dist/cli/main.js');
    if (!existsSync(built) || statSync(built).mtimeMs < newestMtime(join(REPO, 'src')))
      throw new Error('dist/ is missing or older than src/: run `npm run build` first');
    dir = await mkdtemp(join(tmpdir(), 'switchboard-pkg-'));
    const packed = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], REPO);
    expect(packed.code, packed.stderr).toBe(0);
    const tarball = join(dir, packed.stdout.trim().split('\n').at(-1) ?? '');
    app = join(dir, 'app');
    await mkdir(app);
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'new-user-app', version: '1.0.0', private: true, type: 'module' }));
    const installed = await run('npm', ['install', '--no-audit', '--no-fund', '--omit=dev', '--prefer-offline', tarball], app, INSTALL_MS - 15_000);
    expect(installed.code, installed.stderr).toBe(0);
  }, INSTALL_MS);
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('`switchboard start` serves /health and the Pusher WebSocket, without the bench’s packages', async () => {
    const { child, port, output } = await withoutBenchPackages(app, () => startInstalled(app));
    try {
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status, output()).toBe(200);
      const hello = await firstMessage(`ws://127.0.0.1:${port}/app/app-key?protocol=7&client=js&version=8.4.0`);
      expect(hello.event).toBe('pusher:connection_established');
      expect(JSON.parse(hello.data ?? '{}')).toHaveProperty('socket_id');
      // The dashboard's page and its files ship in the package.
      for (const path of ['/dashboard', '/dashboard/assets/app.js', '/dashboard/assets/style.css', '/dashboard/assets/uplot.js']) {
        expect((await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status, path).toBe(200);
      }
    } finally {
      const exited = child.exitCode === null ? once(child, 'exit') : Promise.resolve();
      killGroup(child, 'SIGTERM');
      await exited;
    }
  });

  it('`--help`, `config check` and the bench commands’ help answer without the bench’s packages', async () => {
    await withoutBenchPackages(app, async () => {
      expect((await bin(['--help'])).stdout).toMatch(/start/);
      const check = await bin(['config', 'check', '--port', '7123']);
      expect(check.code, check.stderr).toBe(0);
      expect(JSON.parse(check.stdout)).toMatchObject({ port: 7123 });
      const bench = await npx(['bench', '--help']);
      expect(bench.code, bench.stderr).toBe(0);
      expect(bench.stdout).toMatch(/fanout/);
      expect(bench.stdout).toMatch(/compare/);
      const fanout = await bin(['bench', 'fanout', '--help']);
      expect(fanout.code, fanout.stderr).toBe(0);
      expect(fanout.stdout).toMatch(/--subscribers/);
    });
  });

  it('`import("switchboard")` gives the public API, which starts a node', async () => {
    const script = [
      "const m = await import('switchboard');",
      "const node = await m.startNode(m.loadConfig({ argv: { host: '127.0.0.1', port: 0, logLevel: 'silent' }, env: {} }));",
      'const health = await fetch(`http://127.0.0.1:${node.port}/health`);',
      'await node.stop({ drainSeconds: 0 });',
      "const { createRequire } = await import('node:module');",
      "const version = createRequire(import.meta.url)('switchboard/package.json').version;",
      'console.log(JSON.stringify({ keys: Object.keys(m).sort(), health: health.status, version }));',
    ].join('\n');
    const result = await run(process.execPath, ['--input-type=module', '-e', script], app);
    expect(result.code, result.stderr).toBe(0);
    const { keys, health, version } = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as { keys: string[]; health: number; version: string };
    expect(keys).toEqual(expect.arrayContaining(['startNode', 'loadConfig', 'createLogger', 'ConfigError']));
    // Internals stay internal: no core, transport or bench classes.
    expect(keys.filter((k) => /Core|Transport|Agent|Bench/.test(k))).toEqual([]);
    expect(health).toBe(200);
    expect(version).toBe(JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')).version);
    const manifest = JSON.parse(await readFile(join(app, 'node_modules/switchboard/package.json'), 'utf8')) as { types: string };
    expect(existsSync(join(app, 'node_modules/switchboard', manifest.types))).toBe(true);
  });

  it('`bench compare` starts the shipped ws-raw reference server, `bench report` renders; Socket.IO asks for its optional packages by name', async () => {
    const out = join(dir, 'results');
    const compare = await bin(
      [
        'bench',
        'compare',
        'fanout',
        '--target',
        'ws-raw',
        '--server-cpus',
        '',
        '--out-dir',
        out,
        '--subscribers',
        '4',
        '--channels',
        '1',
        '--rate',
        '5',
        '--duration',
        '1s',
        '--drain',
        '1s',
        '--warmup',
        '0',
        '--workers',
        '0',
      ],
      30_000,
    );
    expect(compare.code, compare.stderr).toBe(0);
    expect(compare.stdout).toMatch(/^ws-raw +ws-raw /m);
    // The report inlines uPlot from the installed package.
    const report = await bin(['bench', 'report', join(out, 'fanout-ws-raw.json'), '--out', join(out, 'report.html')]);
    expect(report.code, report.stderr).toBe(0);
    expect(await readFile(join(out, 'report.html'), 'utf8')).toMatch(/uPlot/);
    const socketio = await bin(['bench', 'compare', 'fanout', '--target', 'socketio', '--server-cpus', '']);
    expect(socketio.code).toBe(2);
    expect(socketio.stderr).toMatch(/npm install socket\.io@/);
    const driver = await bin(['bench', 'fanout', '--driver', 'socketio', '--url', 'ws://127.0.0.1:1', '--duration', '1s', '--workers', '0', '--quiet']);
    expect(driver.code).toBe(2);
    expect(driver.stderr).toMatch(/npm install socket\.io-client@/);
  });
});
