import type { ChildProcess } from 'node:child_process';
import { IPC_RELAY_ENV, IpcHub } from '../adapters/ipc.js';
import { Balancer } from '../balancer/balancer.js';
import type { BalancerConfig } from '../balancer/config.js';
import { supervisorMetrics } from '../metrics/supervisor.js';
import type { Logger } from '../util/logger.js';
import { SUPERVISED_ENV } from './child.js';
import { EventLog } from './events.js';
import { NodePool, type NodeState, type SupervisedNode } from './pool.js';
import { ScalingLoop, type ScalingLoopSettings } from './scaler.js';

export interface SupervisorOptions {
  /** The CLI entry the nodes run (dist/cli/main.js). */
  cli: string;
  /** `switchboard start` arguments every node gets (the supervisor adds --host and --port). */
  nodeArgs: readonly string[];
  env: NodeJS.ProcessEnv;
  /** Relay cluster traffic between the nodes through this process (adapter local). */
  relay: boolean;
  /** The balancer on the public port; its `backend` list is replaced by the nodes'. */
  balancer: BalancerConfig;
  nodeHost: string;
  nodePortBase: number;
  readyTimeoutMs: number;
  restartMaxDelayMs: number;
  drainSeconds: number;
  scaling: ScalingLoopSettings;
}

const STATES: readonly NodeState[] = ['starting', 'ready', 'draining', 'restarting'];

/**
 * `switchboard cluster`: node processes on their own ports (NodePool), the
 * balancer in front of them on the public port, the scaling loop that
 * follows the leader's advice, and the IPC relay when the nodes have no
 * broker. The balancer's backends are exactly the pool's ready nodes: a new
 * node is added late (slow start), a draining or dead one is removed at once.
 */
export class Supervisor {
  readonly events: EventLog;
  private readonly pool: NodePool;
  private readonly hub: IpcHub | null;
  private balancer: Balancer | null = null;
  private readonly scaler: ScalingLoop;
  /** The address each slot has in the balancer. */
  private readonly announced = new Map<number, string>();
  private gaugeTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly options: SupervisorOptions,
    private readonly logger: Logger,
  ) {
    this.events = new EventLog(logger);
    this.hub = options.relay ? new IpcHub() : null;
    const env: NodeJS.ProcessEnv = { ...options.env, [SUPERVISED_ENV]: '1', ...(options.relay ? { [IPC_RELAY_ENV]: '1' } : {}) };
    this.pool = new NodePool(
      { cli: options.cli, args: options.nodeArgs, env },
      {
        host: options.nodeHost,
        portBase: options.nodePortBase,
        readyTimeoutMs: options.readyTimeoutMs,
        restartMaxDelayMs: options.restartMaxDelayMs,
        drainSeconds: options.drainSeconds,
      },
      {
        spawned: (child) => this.attach(child),
        ready: (node) => this.announce(node),
        gone: (node) => this.withdraw(node),
        crashed: (node, d) =>
          this.events.record({
            event: 'crash',
            cause: d.beforeReady ? 'start-failed' : 'crash',
            nodes: this.pool.running,
            slot: node.slot,
            reason: `node ${node.slot} (${node.address}) ${d.beforeReady ? 'exited or timed out before it was ready' : 'exited while serving'} (code ${d.code ?? '-'}, signal ${d.signal ?? '-'}); restarting in ${d.delayMs} ms`,
          }),
        restarted: (node) =>
          this.events.record({
            event: 'restart',
            cause: 'crash',
            nodes: this.pool.running,
            slot: node.slot,
            reason: `node ${node.slot} ready again on ${node.address} (restart ${node.restarts})`,
          }),
      },
      logger,
    );
    this.scaler = new ScalingLoop(this.pool, this.events, options.scaling, (node) => this.connectionsOf(node), logger);
  }

  /** Start scalingMinNodes nodes, then the balancer in front of them, then the scaling loop. Returns the public port. */
  async start(): Promise<number> {
    const min = this.options.scaling.minNodes;
    this.logger.info({ minNodes: min, maxNodes: this.options.scaling.maxNodes, relay: this.options.relay }, 'supervisor starting nodes');
    await Promise.all(Array.from({ length: min }, () => this.pool.add()));
    const backends = [...this.announced.values()];
    if (backends.length === 0) {
      await this.pool.close();
      throw new Error('no node became ready (see the node logs above)');
    }
    const balancer = new Balancer({ ...this.options.balancer, backend: backends }, this.logger.child({ component: 'balancer' }));
    balancer.serveJson('/supervisor', () => this.status());
    try {
      await balancer.start();
    } catch (err) {
      await this.pool.close();
      throw err;
    }
    this.balancer = balancer;
    // Node states change inside the pool's awaits too (a drain ending): the gauges follow on a timer.
    this.gaugeTimer = setInterval(() => this.updateGauges(), 1000);
    this.gaugeTimer.unref();
    this.updateGauges();
    this.scaler.start();
    return balancer.port;
  }

  /** Stop scaling, drain every node (paced 4200 closes), then close the balancer. */
  async stop(): Promise<void> {
    await this.scaler.stop();
    if (this.gaugeTimer !== null) clearInterval(this.gaugeTimer);
    await this.pool.close();
    await this.balancer?.stop();
  }

  /** SIGKILL every node process (a second signal). */
  kill(): void {
    for (const node of this.pool.all()) node.run?.child.kill('SIGKILL');
  }

  /** `GET /supervisor` on the public port. */
  status(): unknown {
    return {
      running: this.pool.running,
      minNodes: this.options.scaling.minNodes,
      maxNodes: this.options.scaling.maxNodes,
      relay: this.options.relay,
      nodes: this.pool.all().map((n) => ({
        slot: n.slot,
        address: n.address,
        pid: n.run?.pid ?? null,
        state: n.state,
        restarts: n.restarts,
        connections: this.connectionsOf(n),
      })),
      advice: this.scaler.advice,
      decision: this.scaler.decision,
      lastStepAt: Number.isFinite(this.scaler.lastStepAt) ? new Date(this.scaler.lastStepAt).toISOString() : null,
      events: this.events.recent,
    };
  }

  private connectionsOf(node: SupervisedNode): number {
    return this.balancer?.set.get(node.address)?.connections ?? 0;
  }

  private attach(child: ChildProcess): void {
    this.updateGauges();
    if (this.hub === null) return;
    this.hub.attach({
      send: (message) => child.send(message as object, (err) => void err),
      isConnected: () => child.connected,
      on: (event: 'message' | 'exit', listener: (message: unknown) => void) => child.on(event, listener),
    });
  }

  private announce(node: SupervisedNode): void {
    const previous = this.announced.get(node.slot);
    if (previous !== undefined && previous !== node.address) this.balancer?.removeBackend(previous);
    this.announced.set(node.slot, node.address);
    // Before the balancer exists the address goes into its start-up list (no slow start: it was there first).
    this.balancer?.addBackend(node.host, node.port, true);
    this.updateGauges();
  }

  private withdraw(node: SupervisedNode): void {
    const address = this.announced.get(node.slot);
    this.announced.delete(node.slot);
    if (address !== undefined) this.balancer?.removeBackend(address);
    this.updateGauges();
  }

  private updateGauges(): void {
    const nodes = this.pool.all();
    for (const state of STATES) supervisorMetrics.nodes.set({ state }, nodes.filter((n) => n.state === state).length);
  }
}
