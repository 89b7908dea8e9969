import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DriverName } from '../../src/bench/drivers/types.js';
import type { RunOptions } from '../../src/bench/run.js';
import type { ScenarioName, ScenarioSizes } from '../../src/bench/scenarios/types.js';
import { parseThreshold } from '../../src/bench/thresholds.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** A reference server (bench/reference/<name>.mjs) on a free port. */
export interface ReferenceServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export function startReference(name: 'ws-raw' | 'socketio'): Promise<ReferenceServer> {
  const child: ChildProcess = spawn(process.execPath, [`${REPO}bench/reference/${name}.mjs`], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not print ready`)), 10_000);
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      const match = /ready (\d+)/.exec(chunk.toString());
      if (match === null) return;
      clearTimeout(timer);
      resolve({
        url: `ws://127.0.0.1:${match[1]}`,
        pid: child.pid ?? 0,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
  });
}

const SMALL: ScenarioSizes = { connections: 40, subscribers: 30, channels: 2, rooms: 3, roomSize: 4, members: 4, holdMs: 200, churnRate: 5 };

/** Options for a short run: small sizes, one second, clients in this process unless asked. */
export function shortRun(scenario: ScenarioName, driver: DriverName, url: string, overrides: Partial<RunOptions> = {}): RunOptions {
  const port = new URL(url).port;
  return {
    scenario,
    driver,
    target: { url, httpUrl: `http://127.0.0.1:${port}`, appId: 'app-id', key: 'app-key', secret: 'app-secret' },
    sizes: SMALL,
    pattern: { kind: 'constant', rate: 20 },
    durationMs: 1000,
    thresholds: [parseThreshold('loss=0'), parseThreshold('errors=0')],
    workers: 0,
    sourceAddresses: [],
    connectRate: 1000,
    connectConcurrency: 50,
    timeoutMs: 5000,
    drainMs: 3000,
    warmupMs: 0,
    payloadBytes: 0,
    maxSockets: 8,
    command: ['test'],
    ...overrides,
  };
}
