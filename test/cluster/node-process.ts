import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** Whether the build exists (these tests run `dist`, as `npm test` builds first). */
export function builtCliAvailable(): boolean {
  if (existsSync(CLI)) return true;
  console.warn('[cluster tests] dist/cli/main.js missing: run `npm run build` (npm test does) to run the process tests');
  return false;
}

export interface LogLine {
  msg?: string;
  port?: number;
  pid?: number;
  [key: string]: unknown;
}

/** A `switchboard start` process whose JSON log lines are kept and can be waited for. */
export class NodeProcess {
  readonly lines: LogLine[] = [];
  private waiters: Array<() => void> = [];
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  private readonly exited: Promise<void>;

  private constructor(readonly child: ChildProcess) {
    let buffer = '';
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString();
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const part of parts) {
        try {
          this.lines.push(JSON.parse(part) as LogLine);
        } catch {
          this.lines.push({ msg: part });
        }
      }
      this.wake();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        this.wake();
        resolve();
      }),
    );
  }

  static spawn(args: string[], env: NodeJS.ProcessEnv = {}): NodeProcess {
    const child = spawn(process.execPath, [CLI, 'start', '--host', '127.0.0.1', '--log-level', 'info', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    return new NodeProcess(child);
  }

  /** Start a node and wait for its "listening" line; returns it with its port. */
  static async start(args: string[], env?: NodeJS.ProcessEnv): Promise<{ proc: NodeProcess; port: number }> {
    const proc = NodeProcess.spawn(['--port', '0', ...args], env);
    try {
      // Node start-up is ~1 s; several started at once on a loaded two-core machine can take many times that.
      const line = await proc.waitFor((l) => l.msg === 'switchboard node listening', 20_000);
      return { proc, port: line.port! };
    } catch (err) {
      // The caller never gets the process to clean up: a node that did not start in time must not outlive the test.
      await proc.kill();
      throw err;
    }
  }

  async waitFor(predicate: (line: LogLine) => boolean, ms = 10_000, from = 0): Promise<LogLine> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.lines.slice(from).find(predicate);
      if (found !== undefined) return found;
      if (this.exitCode !== null || this.exitSignal !== null) throw new Error(`process exited (${this.exitCode ?? this.exitSignal}): ${this.tail()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for a log line: ${this.tail()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.exitCode === null && this.exitSignal === null) this.child.kill(signal);
    return this.exited;
  }

  /** Wait for the process to exit by itself (bounded). */
  async exit(ms = 15_000): Promise<void> {
    await Promise.race([this.exited, new Promise((_, reject) => setTimeout(() => reject(new Error('process did not exit')), ms))]);
  }

  tail(): string {
    return this.lines
      .slice(-8)
      .map((l) => JSON.stringify(l))
      .join('\n');
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** GET a JSON document from a node. */
export async function getJson<T = unknown>(port: number, path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: (await res.json()) as T };
}
