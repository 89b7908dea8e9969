import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { sleep } from './clock.js';
import { DRIVER_NAMES, type DriverName } from './drivers/types.js';
import { SwitchboardBenchUsageError } from './errors.js';
import { requireInstalled } from './optional-packages.js';

/** A target of `bench compare`: where it listens, how to speak to it, and the server we started, if any. */
export interface CompareTarget {
  name: string;
  driver: DriverName;
  url: string;
  pid?: number;
  stop(): Promise<void>;
}

const BUILT_IN_TARGETS = ['switchboard', 'socketio', 'ws-raw'] as const;
type BuiltIn = (typeof BUILT_IN_TARGETS)[number];

/** A free loopback port (there is a short race until the server binds it; fine on a test machine). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited with code ${child.exitCode} before listening`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(100);
  }
  throw new Error(`the server did not listen on ${port} within ${timeoutMs} ms`);
}

/** The repository file a built-in target runs (works from src/bench and from dist/bench). */
function builtInScript(name: BuiltIn): string {
  const relative = name === 'switchboard' ? '../cli/main.js' : `../../bench/reference/${name}.mjs`;
  const path = fileURLToPath(new URL(relative, import.meta.url));
  if (name === 'switchboard' && !existsSync(path)) return fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
  return path;
}

/** Start a built-in target on a free port, pinned to `cpus` with taskset when given. */
export async function startBuiltIn(name: BuiltIn, cpus: string | undefined): Promise<CompareTarget> {
  // The Socket.IO server and its driver are optional packages: name both before spawning anything.
  if (name === 'socketio') requireInstalled('the socketio target', ['socket.io', 'socket.io-client']);
  const port = await freePort();
  const script = builtInScript(name);
  const args = name === 'switchboard' ? [script, 'start', '--port', String(port), '--host', '127.0.0.1', '--log-level', 'warn'] : [script];
  const command = cpus ? 'taskset' : process.execPath;
  const argv = cpus ? ['-c', cpus, process.execPath, ...args] : args;
  const child = spawn(command, argv, { env: { ...process.env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    await waitForPort(port, child, 15_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const driver: DriverName = name === 'switchboard' ? 'pusher' : name;
  return {
    name,
    driver,
    url: `ws://127.0.0.1:${port}`,
    ...(child.pid !== undefined ? { pid: child.pid } : {}),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/** Parse `name=driver:ws-url[@pid]` or a built-in name. */
export function parseTargetSpec(spec: string): { builtIn: BuiltIn } | { name: string; driver: DriverName; url: string; pid?: number } {
  if ((BUILT_IN_TARGETS as readonly string[]).includes(spec)) return { builtIn: spec as BuiltIn };
  const match = /^([\w.-]+)=([\w-]+):(wss?:\/\/[^@\s]+)(?:@(\d+))?$/.exec(spec);
  if (match === null) throw new SwitchboardBenchUsageError(`--target "${spec}" is not name=driver:ws-url[@pid] or one of ${BUILT_IN_TARGETS.join(', ')}`);
  const [, name = '', driver = '', url = '', pid] = match;
  if (!(DRIVER_NAMES as readonly string[]).includes(driver))
    throw new SwitchboardBenchUsageError(`--target "${spec}": driver must be one of ${DRIVER_NAMES.join(', ')}`);
  return { name, driver: driver as DriverName, url, ...(pid !== undefined ? { pid: Number(pid) } : {}) };
}
