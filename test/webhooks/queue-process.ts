import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./queue-node.ts', import.meta.url));

export interface QueueNodeLine {
  type: 'started' | 'delivering' | 'delivered';
  id?: string;
  at?: number;
}

/** test/webhooks/queue-node.ts run as a child process (through tsx), its stdout lines kept. */
export class QueueNodeProcess {
  readonly lines: QueueNodeLine[] = [];
  private readonly exited: Promise<void>;
  private stderr = '';

  private constructor(private readonly child: ChildProcess) {
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const part of parts) if (part.trim() !== '') this.lines.push(JSON.parse(part) as QueueNodeLine);
    });
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-4000)));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  static spawn(settings: Record<string, unknown>): QueueNodeProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, QUEUE_NODE: JSON.stringify(settings) },
    });
    return new QueueNodeProcess(child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Wait for a line (bounded); fails with the process's stderr if it exits first. */
  async waitFor(predicate: (line: QueueNodeLine) => boolean, ms = 20_000): Promise<QueueNodeLine> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.lines.find(predicate);
      if (found !== undefined) return found;
      if (!this.alive()) throw new Error(`queue node exited: ${this.stderr}`);
      if (Date.now() > deadline)
        throw new Error(`queue node: no such line after ${ms} ms; lines ${JSON.stringify(this.lines.slice(-5))}; stderr ${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** SIGKILL, as a crash; resolves once it is gone. */
  async kill(): Promise<void> {
    if (this.alive()) this.child.kill('SIGKILL');
    await this.exited;
  }
}
