import { spawn, type ChildProcess } from 'node:child_process';
import { CLI } from '../cluster/node-process.js';
import type { PusherJs } from '../helpers/node.js';

/** What `GET /supervisor` answers (the parts the tests read). */
export interface SupervisorStatus {
  running: number;
  nodes: Array<{ slot: number; address: string; pid: number | null; state: string; restarts: number; connections: number }>;
  decision: { action: string; reason: string } | null;
  events: Array<{ at: string; event: string; cause: string; nodes: number; slot: number; reason: string }>;
}

/** A `switchboard cluster` process with its output kept. */
export class SupervisorProcess {
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;

  constructor(
    readonly port: number,
    args: string[],
    env: NodeJS.ProcessEnv,
  ) {
    this.child = spawn(process.execPath, [CLI, 'cluster', '--host', '127.0.0.1', '--port', String(port), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  async status(): Promise<SupervisorStatus | null> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.port}/supervisor`, { signal: AbortSignal.timeout(3000) });
      return res.ok ? ((await res.json()) as SupervisorStatus) : null;
    } catch {
      return null;
    }
  }

  /** SIGTERM and wait (SIGKILL after `ms`). */
  async stop(ms = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), ms);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  tail(chars = 3000): string {
    return this.output.slice(-chars);
  }
}

/** Whether a process id is alive. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** One publish through the balancer: its sequence number and when it was sent and acknowledged. */
export interface Published {
  n: number;
  sentAt: number;
  ackedAt: number;
}

/** A subscriber's connected-and-subscribed periods and what it received. */
export class TrackedSubscriber {
  readonly periods: Array<{ from: number; to: number }> = [];
  readonly received = new Set<number>();
  reconnects = -1;

  constructor(
    readonly client: PusherJs,
    channelName: string,
  ) {
    const channel = client.subscribe(channelName);
    // pusher-js resubscribes after every reconnect and says so with subscription_succeeded.
    channel.bind('pusher:subscription_succeeded', () => {
      this.reconnects++;
      this.periods.push({ from: Date.now(), to: Number.POSITIVE_INFINITY });
    });
    channel.bind('seq', (data: { n: number }) => this.received.add(data.n));
    client.connection.bind('state_change', (states: { previous: string; current: string }) => {
      const open = this.periods.at(-1);
      if (states.previous === 'connected' && open !== undefined && open.to === Number.POSITIVE_INFINITY) open.to = Date.now();
    });
  }

  get subscribed(): boolean {
    const open = this.periods.at(-1);
    return this.client.connection.state === 'connected' && open !== undefined && open.to === Number.POSITIVE_INFINITY;
  }

  /**
   * Messages this subscriber must have: sent after a subscription succeeded and acknowledged
   * `graceMs` before that connection ended (one in flight while its node closed it may be lost).
   * A connection open when its node was killed (`killedAt`) ends at the kill: what is published
   * while the client has not yet noticed that its node is gone cannot reach it.
   * `missed` = owed ones it lacks; `duringReconnects` = published ones outside every such window that it lacks.
   */
  audit(published: readonly Published[], graceMs: number, killedAt: number): { owed: number; missed: number[]; duringReconnects: number[] } {
    const missed: number[] = [];
    const duringReconnects: number[] = [];
    const windows = this.periods.map((w) => ({ from: w.from, to: w.from < killedAt && killedAt < w.to ? killedAt : w.to }));
    let owed = 0;
    for (const p of published) {
      const covered = windows.some((w) => p.sentAt >= w.from && p.ackedAt <= w.to - graceMs);
      if (covered) {
        owed++;
        if (!this.received.has(p.n)) missed.push(p.n);
      } else if (!this.received.has(p.n)) duringReconnects.push(p.n);
    }
    return { owed, missed, duringReconnects };
  }
}
