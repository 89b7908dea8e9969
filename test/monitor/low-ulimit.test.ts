import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import Pusher from 'pusher';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, builtCliAvailable } from '../cluster/node-process.js';
import { freePort } from '../cluster/services.js';
import { sleep } from '../helpers/node.js';

const PRLIMIT = ['/usr/bin/prlimit', '/bin/prlimit'].find((p) => existsSync(p));
const OPEN_FILES = 600;
// The default fdHeadroom (256) keeps 256 of the 600 descriptors free: 344 connections.
const EXPECTED_LIMIT = OPEN_FILES - 256;
const SOCKETS = 460;

let child: ChildProcess | null = null;
afterEach(async () => {
  if (child !== null && child.exitCode === null) {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
  child = null;
});

/** Open one WebSocket and say how it ended: established (kept open), a close code, or an error. */
function openOne(port: number): Promise<{ outcome: 'established' | number | 'error'; ws: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/app/app-key?protocol=7&client=js&version=8.4.0`);
    let settled = false;
    const done = (outcome: 'established' | number | 'error'): void => {
      if (settled) return;
      settled = true;
      resolve({ outcome, ws });
    };
    ws.on('message', (data) => {
      if (String(data).includes('pusher:connection_established')) done('established');
    });
    ws.on('close', (code) => done(code));
    ws.on('error', () => done('error'));
  });
}

describe.runIf(PRLIMIT !== undefined && builtCliAvailable())('a node at its open-file limit', () => {
  it(`under ulimit -n ${OPEN_FILES}, default config: ${SOCKETS} fast WebSockets get ${EXPECTED_LIMIT} accepted and 4100 for the rest, never 1006; /health, /ready and the API keep answering`, async () => {
    const port = await freePort();
    child = spawn(
      PRLIMIT!,
      [`--nofile=${OPEN_FILES}:${OPEN_FILES}`, process.execPath, CLI, 'start', '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c));
    child.stderr!.on('data', (c: Buffer) => (output += c));
    const deadline = Date.now() + 15_000;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`node did not start: ${output}`);
      await sleep(100);
    }

    // All at once, and while they are in flight the node's HTTP side is asked too.
    const opening = Array.from({ length: SOCKETS }, () => openOne(port));
    const sdk = new Pusher({ appId: 'app-id', key: 'app-key', secret: 'app-secret', host: '127.0.0.1', port: String(port), useTLS: false });
    const duringHealth = fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status);
    const duringApi = sdk.trigger('flood', 'during', { ok: true }).then((r) => r.status);
    const results = await Promise.all(opening);
    const counts = new Map<string, number>();
    for (const r of results) counts.set(String(r.outcome), (counts.get(String(r.outcome)) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({ established: EXPECTED_LIMIT, '4100': SOCKETS - EXPECTED_LIMIT });
    expect(await duringHealth).toBe(200);
    expect(await duringApi).toBe(200);

    // Full: still alive, not ready (with the reason), the API answers.
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${port}/ready`);
    expect(ready.status).toBe(503);
    expect(JSON.stringify(await ready.json())).toContain(`connections at the limit (${EXPECTED_LIMIT} of ${EXPECTED_LIMIT}, open-file limit)`);
    expect((await sdk.trigger('flood', 'after', { ok: true })).status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain(`switchboard_monitor_connection_limit ${EXPECTED_LIMIT}`);

    for (const r of results) r.ws.terminate();
  }, 60_000);
});
