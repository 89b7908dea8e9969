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

/** A connection ending this soon after a kill -9 was on the killed node (measured: ~1.1-1.3 s to notice). */
const KILL_NOTICE_MS = 5000;

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

  /**
   * Each reconnect: whether its node was killed or closed the connection (a drain's 4200), how long
   * the subscriber was without a subscription (from the kill, or from the close), and what it missed that was published then.
   */
  gaps(published: readonly Published[], killedAt: number): Array<{ cause: 'kill' | 'close'; ms: number; missed: number }> {
    const out: Array<{ cause: 'kill' | 'close'; ms: number; missed: number }> = [];
    for (let i = 0; i + 1 < this.periods.length; i++) {
      const w = this.periods[i]!;
      const kill = this.lostAtKill(w, killedAt);
      const from = kill ? killedAt : w.to;
      const to = this.periods[i + 1]!.from;
      const missed = published.filter((p) => p.sentAt >= from - 1000 && p.sentAt <= to && !this.received.has(p.n)).length;
      out.push({ cause: kill ? 'kill' : 'close', ms: to - from, missed });
    }
    return out;
  }

  /** Whether a connection period ended because its node was killed at `killedAt`. */
  lostAtKill(w: { from: number; to: number }, killedAt: number): boolean {
    return w.from < killedAt && killedAt < w.to && w.to - killedAt < KILL_NOTICE_MS;
  }

  get subscribed(): boolean {
    const open = this.periods.at(-1);
    return this.client.connection.state === 'connected' && open !== undefined && open.to === Number.POSITIVE_INFINITY;
  }

  /**
   * Messages this subscriber must have: sent after a subscription succeeded and acknowledged
   * `graceMs` before that connection ended (one in flight while its node closed it may be lost).
   * A connection open at the kill (`killedAt`) that ended within `KILL_NOTICE_MS` of it was on the
   * killed node: it ends at the kill, since what is published before the client notices cannot reach it.
   * `missed` = owed ones it lacks; `duringReconnects` = ones published after its first subscription,
   * outside every such window, that it lacks.
   */
  audit(published: readonly Published[], graceMs: number, killedAt: number): { owed: number; missed: number[]; duringReconnects: number[] } {
    const missed: number[] = [];
    const duringReconnects: number[] = [];
    const windows = this.periods.map((w) => ({ from: w.from, to: this.lostAtKill(w, killedAt) ? killedAt : w.to }));
    const first = this.periods[0]?.from ?? Number.POSITIVE_INFINITY;
    let owed = 0;
    for (const p of published) {
      const covered = windows.some((w) => p.sentAt >= w.from && p.ackedAt <= w.to - graceMs);
      if (covered) {
        owed++;
        if (!this.received.has(p.n)) missed.push(p.n);
      } else if (p.sentAt >= first && !this.received.has(p.n)) duringReconnects.push(p.n);
    }
    return { owed, missed, duringReconnects };
  }
}
