import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { withTimeout } from '../helpers/node.js';

const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** Start `switchboard start` as a real process on a free port; resolve with the port it logged. */
async function startProcess(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [BIN, 'start', '--port', '0', '--host', '127.0.0.1', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const port = await withTimeout(
    new Promise<number>((resolve) => {
      lines.on('line', (line) => {
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === 'switchboard node listening' && entry.port) resolve(entry.port);
      });
    }),
    10_000,
    'node did not start',
  );
  return { child, port };
}

async function openSocket(port: number): Promise<{ ws: WebSocket; closed: Promise<number> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/app/app-key?protocol=7`);
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await once(ws, 'message'); // connection_established
  return { ws, closed };
}

describe('graceful shutdown of a node process', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.kill('SIGKILL');
  });

  it('on SIGTERM: /ready turns 503, clients get 4200 spread over the drain period, new upgrades are refused, exit 0', async () => {
    const started = await startProcess(['--drain-seconds', '1']);
    child = started.child;
    const { port } = started;
    const sockets = await Promise.all(Array.from({ length: 20 }, () => openSocket(port)));
    expect((await fetch(`http://127.0.0.1:${port}/ready`)).status).toBe(200);

    const exited = once(child, 'exit');
    const t0 = Date.now();
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 150));
    const ready = await fetch(`http://127.0.0.1:${port}/ready`).then(
      (r) => r.status,
      () => 'closed',
    );
    expect([503, 'closed']).toContain(ready);
    const late = new WebSocket(`ws://127.0.0.1:${port}/app/app-key?protocol=7`);
    const lateOutcome = await new Promise<string>((resolve) => {
      late.once('open', () => resolve('open'));
      late.once('error', () => resolve('refused'));
    });
    expect(lateOutcome).toBe('refused');

    const codes = await Promise.all(sockets.map((s) => s.closed));
    expect(codes.every((c) => c === 4200)).toBe(true);
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    // Spread over the 1 s drain period, not all at once.
    expect(Date.now() - t0).toBeGreaterThan(500);
  });

  it('a second signal exits at once', async () => {
    const started = await startProcess(['--drain-seconds', '30']);
    child = started.child;
    await Promise.all(Array.from({ length: 50 }, () => openSocket(started.port)));
    const exited = once(child, 'exit');
    const t0 = Date.now();
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGTERM');
    const [code] = (await withTimeout(exited, 5000, 'did not exit on the second signal')) as [number | null];
    expect(code).not.toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
