import { fork, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { createServer } from 'node:net';

/** How one node process is started: `switchboard start` with these arguments and environment. */
export interface NodeCommand {
  /** The CLI entry (dist/cli/main.js). */
  readonly cli: string;
  /** Arguments after `start`, without --host/--port (the supervisor adds them). */
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
}

/** One run of a node process: from fork to exit. */
export interface NodeRun {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly startedAt: number;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitedYet: boolean;
}

/** Fork one node on host:port with an IPC channel (the relay's, when the nodes use `adapter: local`). */
export function spawnNode(command: NodeCommand, host: string, port: number): NodeRun {
  const child = fork(command.cli, ['start', ...command.args, '--host', host, '--port', String(port)], {
    env: command.env,
    // stdout/stderr are the supervisor's: one log stream for the whole cluster.
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // Its own process group: a terminal's Ctrl-C reaches the supervisor only, which drains the
    // nodes one signal each (a node that got the terminal's signal too would take the
    // supervisor's SIGTERM as a second signal and exit without draining). A supervisor that
    // dies unasked still takes them along: they exit when the IPC channel closes (child.ts).
    detached: true,
  });
  const run: NodeRun = {
    child,
    pid: child.pid ?? -1,
    startedAt: Date.now(),
    exitedYet: false,
    exited: new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        run.exitedYet = true;
        resolve({ code, signal });
      });
      // A failed fork emits 'error' and may never emit 'exit'.
      child.once('error', () => {
        if (child.exitCode === null && child.signalCode === null && child.pid === undefined) {
          run.exitedYet = true;
          resolve({ code: null, signal: null });
        }
      });
    }),
  };
  return run;
}

/** One `GET /ready`: true on 200 within a second. */
function readyOnce(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/ready', method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/**
 * Poll `/ready` until the node answers 200 ('ready'), its process exits
 * ('exited') or `timeoutMs` passes ('timeout').
 */
export async function waitReady(run: NodeRun, host: string, port: number, timeoutMs: number): Promise<'ready' | 'exited' | 'timeout'> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (run.exitedYet) return 'exited';
    if (await readyOnce(host, port)) return 'ready';
    if (Date.now() >= deadline) return 'timeout';
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * SIGTERM (the node drains: paced 4200 closes over its drainSeconds), then
 * SIGKILL if it has not exited after `graceMs`. Resolves once it has exited.
 */
export async function stopNode(run: NodeRun, graceMs: number): Promise<void> {
  if (run.exitedYet) return;
  run.child.kill('SIGTERM');
  const timer = setTimeout(() => run.child.kill('SIGKILL'), graceMs);
  await run.exited;
  clearTimeout(timer);
}

/** A port that was free on `host` a moment ago (the node that gets it binds it soon after; a lost race is a crash and a retry). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
