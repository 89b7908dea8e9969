import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../util/logger.js';
import { RestartBackoff } from './backoff.js';
import { freePort, spawnNode, stopNode, waitReady, type NodeCommand, type NodeRun } from './node-process.js';

/**
 * starting ─/ready 200─▶ ready ─drain─▶ draining ─exit─▶ (gone)
 *    └─exit/timeout─▶ restarting ◀─exit─┘ (unasked)   restarting ─delay─▶ starting
 */
export type NodeState = 'starting' | 'ready' | 'draining' | 'restarting';

/** One node slot the supervisor runs: its port and its current process. */
export interface SupervisedNode {
  readonly slot: number;
  readonly host: string;
  port: number;
  state: NodeState;
  run: NodeRun | null;
  /** Restarts after crashes, over the slot's life. */
  restarts: number;
  /** Whether the node was ever ready on `port` (a restart keeps a port it served on). */
  servedOnPort: boolean;
  readonly backoff: RestartBackoff;
  readonly address: string;
}

export interface PoolSettings {
  host: string;
  /** 0 = free ports from the OS, else node N gets portBase + N. */
  portBase: number;
  readyTimeoutMs: number;
  restartMaxDelayMs: number;
  /** The nodes' drainSeconds: how long a SIGTERM drain may take before SIGKILL (plus a margin). */
  drainSeconds: number;
}

/** What the pool tells its owner (the supervisor wires these to the balancer and the event log). */
export interface PoolListener {
  /** The node answers /ready: it may take traffic. */
  ready(node: SupervisedNode): void;
  /** The node must take no new traffic (draining, or its process died). */
  gone(node: SupervisedNode): void;
  /** The node's process exited unasked; it restarts after `delayMs`. */
  crashed(node: SupervisedNode, detail: { code: number | null; signal: string | null; delayMs: number; beforeReady: boolean }): void;
  /** A crashed node is ready again. */
  restarted(node: SupervisedNode): void;
  /** A new process (first start or restart) is running: attach the IPC relay to it. */
  spawned(child: ChildProcess): void;
}

/**
 * The node processes on this host: start one on its own port and wait for
 * /ready, restart one that dies unasked (same port, backoff), drain and stop
 * one. It decides nothing about how many: that is the scaling loop's.
 */
export class NodePool {
  private readonly nodes = new Map<number, SupervisedNode>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closing = false;

  constructor(
    private readonly command: NodeCommand,
    private readonly settings: PoolSettings,
    private readonly listener: PoolListener,
    private readonly logger: Logger,
  ) {}

  all(): SupervisedNode[] {
    return [...this.nodes.values()].sort((a, b) => a.slot - b.slot);
  }

  /** Nodes that serve or will again (everything but draining ones): what scaling counts. */
  get running(): number {
    return this.all().filter((n) => n.state !== 'draining').length;
  }

  /** What is under way, for the scaling loop to wait on; null when every node is ready. */
  busy(): string | null {
    const pending = this.all().filter((n) => n.state !== 'ready');
    return pending.length === 0 ? null : pending.map((n) => `node ${n.slot} ${n.state}`).join(', ');
  }

  /** Start one more node; resolves once it is ready or has failed its first start (then it restarts on its own). */
  async add(): Promise<SupervisedNode> {
    let slot = 0;
    while (this.nodes.has(slot)) slot++;
    const node: SupervisedNode = {
      slot,
      host: this.settings.host,
      port: 0,
      state: 'starting',
      run: null,
      restarts: 0,
      servedOnPort: false,
      backoff: new RestartBackoff(this.settings.restartMaxDelayMs),
      get address() {
        return `${this.host}:${this.port}`;
      },
    };
    // The slot is taken before the first await: adds that run at once (the start-up's) get different slots.
    this.nodes.set(slot, node);
    node.port = await this.portFor(slot);
    await this.launch(node);
    return node;
  }

  /**
   * Drain `node` and stop it: no new traffic first (the balancer forgets it), then SIGTERM,
   * which makes the node close its clients with 4200 paced over its drainSeconds, as any
   * graceful shutdown does; they reconnect through the balancer to the others.
   */
  async drain(node: SupervisedNode): Promise<void> {
    if (node.state === 'draining') return;
    const wasServing = node.state === 'ready';
    node.state = 'draining';
    if (wasServing) this.listener.gone(node);
    const run = node.run;
    if (run !== null) await stopNode(run, (this.settings.drainSeconds + 10) * 1000);
    this.nodes.delete(node.slot);
  }

  /** Drain every node at once (the supervisor is stopping); restarts are off from here. */
  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all(this.all().map((n) => this.drain(n)));
  }

  private async portFor(slot: number): Promise<number> {
    return this.settings.portBase > 0 ? this.settings.portBase + slot : freePort(this.settings.host);
  }

  /** One start of `node`'s process, up to ready or failure. */
  private async launch(node: SupervisedNode): Promise<void> {
    const run = spawnNode(this.command, node.host, node.port);
    node.run = run;
    node.state = 'starting';
    this.listener.spawned(run.child);
    this.logger.info({ slot: node.slot, port: node.port, pid: run.pid }, 'node process started');
    void run.exited.then((exit) => this.exited(node, run, exit));
    const outcome = await waitReady(run, node.host, node.port, this.settings.readyTimeoutMs);
    if (node.run !== run || node.state !== 'starting') return;
    if (outcome === 'ready') {
      node.state = 'ready';
      node.servedOnPort = true;
      this.logger.info({ slot: node.slot, address: node.address, pid: run.pid }, 'node ready');
      this.listener.ready(node);
      if (node.restarts > 0) this.listener.restarted(node);
      return;
    }
    if (outcome === 'timeout') {
      // Not ready in time counts as a crash: the exit handler restarts it.
      this.logger.warn({ slot: node.slot, pid: run.pid, readyTimeoutMs: this.settings.readyTimeoutMs }, 'node not ready in time; killing it');
      run.child.kill('SIGKILL');
    }
    await run.exited;
  }

  private exited(node: SupervisedNode, run: NodeRun, exit: { code: number | null; signal: NodeJS.Signals | null }): void {
    if (node.run !== run) return;
    node.run = null;
    if (node.state === 'draining' || this.closing) return;
    const wasServing = node.state === 'ready';
    node.state = 'restarting';
    if (wasServing) this.listener.gone(node);
    const delayMs = node.backoff.crashed(run.startedAt, Date.now());
    this.listener.crashed(node, { code: exit.code, signal: exit.signal, delayMs, beforeReady: !wasServing });
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.restart(node);
    }, delayMs);
    this.timers.add(timer);
  }

  private async restart(node: SupervisedNode): Promise<void> {
    if (this.closing || node.state !== 'restarting') return;
    node.restarts++;
    // Keep a port the node served on (its node id and the balancer's backend stay the same);
    // one it never came up on may be taken by someone else: take another.
    if (!node.servedOnPort && this.settings.portBase === 0) node.port = await this.portFor(node.slot);
    await this.launch(node);
  }
}
