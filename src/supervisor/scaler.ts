import type { Logger } from '../util/logger.js';
import { supervisorMetrics } from '../metrics/supervisor.js';
import { fetchAdvice } from './advice.js';
import { decideStep, type Advice, type Decision, type DecisionSettings } from './decide.js';
import type { EventLog } from './events.js';
import type { NodePool, SupervisedNode } from './pool.js';

export interface ScalingLoopSettings extends DecisionSettings {
  intervalMs: number;
}

/**
 * Every `intervalMs`: read the leader's advice from a ready node, decide
 * (decide.ts), and take at most one step, awaited before the next tick: a
 * scale-up waits for the new node's /ready, a scale-down for the drained
 * node's exit. The balancer learns of both through the pool's listener.
 */
export class ScalingLoop {
  advice: Advice | null = null;
  decision: Decision | null = null;
  /** When the last step completed (ms since the epoch); -Infinity before the first. */
  lastStepAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private current: Promise<void> = Promise.resolve();

  constructor(
    private readonly pool: NodePool,
    private readonly events: EventLog,
    private readonly settings: ScalingLoopSettings,
    /** Open connections of a node, to pick the least-loaded one to drain. */
    private readonly connectionsOf: (node: SupervisedNode) => number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.schedule();
  }

  /** Stop ticking; resolves when a step under way has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.current;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.current = this.tick().then(
        () => this.schedule(),
        (err: unknown) => {
          this.logger.error({ err }, 'supervisor scaling tick failed');
          this.schedule();
        },
      );
    }, this.settings.intervalMs);
  }

  private async tick(): Promise<void> {
    const ready = this.pool.all().filter((n) => n.state === 'ready');
    this.advice = null;
    // The first ready node that answers; any node answers with the leader's advice.
    for (const node of ready) {
      this.advice = await fetchAdvice(node.host, node.port);
      if (this.advice !== null) break;
    }
    if (this.stopped) return;
    supervisorMetrics.desiredNodes.set(this.advice?.desired ?? -1);
    const decision = decideStep(
      { running: this.pool.running, busy: this.pool.busy(), advice: this.advice, now: Date.now(), lastStepAt: this.lastStepAt },
      this.settings,
    );
    this.decision = decision;
    if (decision.action === 'hold') {
      this.logger.debug({ reason: decision.reason }, 'supervisor holds');
      return;
    }
    const before = this.pool.running;
    if (decision.action === 'up') {
      const started = Date.now();
      this.events.record({ event: 'scale-up', cause: decision.cause, nodes: before + 1, slot: -1, reason: decision.reason });
      const node = await this.pool.add();
      this.logger.info({ slot: node.slot, address: node.address, state: node.state, ms: Date.now() - started }, 'scale-up step done');
    } else {
      const node = this.leastLoaded(ready);
      if (node === null) return;
      const started = Date.now();
      this.events.record({
        event: 'scale-down',
        cause: decision.cause,
        nodes: before - 1,
        slot: node.slot,
        reason: `${decision.reason}; draining node ${node.slot} (${node.address}, ${this.connectionsOf(node)} connections, the least loaded)`,
      });
      await this.pool.drain(node);
      this.logger.info({ slot: node.slot, address: node.address, ms: Date.now() - started }, 'scale-down step done: node drained and stopped');
    }
    this.lastStepAt = Date.now();
  }

  /** The ready node with the fewest connections; on a tie the highest slot (the first nodes stay). */
  private leastLoaded(ready: SupervisedNode[]): SupervisedNode | null {
    let best: SupervisedNode | null = null;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (const node of ready) {
      if (node.state !== 'ready') continue;
      const load = this.connectionsOf(node);
      if (load < bestLoad || (load === bestLoad && best !== null && node.slot > best.slot)) {
        best = node;
        bestLoad = load;
      }
    }
    return best;
  }
}
