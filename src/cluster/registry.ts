import type { Heartbeat, NodeLoad } from './messages.js';

/** A peer as this node knows it from its heartbeats. */
export interface PeerNode {
  readonly id: string;
  readonly incarnation: string;
  address: string;
  load: NodeLoad;
  startedAt: number;
  /** Local monotonic time (ms) of the last heartbeat. */
  lastSeen: number;
}

/** What a heartbeat meant for the registry. */
export type Observation =
  | { kind: 'new'; node: PeerNode }
  | { kind: 'known'; node: PeerNode }
  /** Same id, new incarnation: the old run is over (its state must go first). */
  | { kind: 'restarted'; node: PeerNode; previous: PeerNode };

/** How many dead incarnations to remember, so that their late messages are ignored. */
const MAX_TOMBSTONES = 1000;

/**
 * The peers this node has heard from, built only from heartbeats (never
 * from a configured node count). A peer silent for `timeoutMs` is dead.
 */
export class NodeRegistry {
  private readonly nodes = new Map<string, PeerNode>();
  /** `id/incarnation` of runs declared dead. */
  private readonly tombstones = new Set<string>();

  constructor(
    private readonly timeoutMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  observe(hb: Heartbeat): Observation {
    const now = this.now();
    const existing = this.nodes.get(hb.from);
    if (existing !== undefined && existing.incarnation === hb.inc) {
      existing.address = hb.address;
      existing.load = hb.load;
      existing.lastSeen = now;
      return { kind: 'known', node: existing };
    }
    // A run we declared dead that speaks again (it was paused, or cut off) comes back as new.
    this.tombstones.delete(`${hb.from}/${hb.inc}`);
    const node: PeerNode = { id: hb.from, incarnation: hb.inc, address: hb.address, load: hb.load, startedAt: hb.startedAt, lastSeen: now };
    this.nodes.set(hb.from, node);
    if (existing !== undefined) {
      this.bury(existing);
      return { kind: 'restarted', node, previous: existing };
    }
    return { kind: 'new', node };
  }

  /** Forget a run (goodbye, leader verdict, timeout). Returns it when it was live. */
  remove(id: string, incarnation: string): PeerNode | undefined {
    const node = this.nodes.get(id);
    if (node === undefined || node.incarnation !== incarnation) {
      this.bury({ id, incarnation });
      return undefined;
    }
    this.nodes.delete(id);
    this.bury(node);
    return node;
  }

  /** Remove and return the peers silent for longer than the timeout. */
  expire(): PeerNode[] {
    const deadline = this.now() - this.timeoutMs;
    const dead: PeerNode[] = [];
    for (const node of this.nodes.values()) {
      if (node.lastSeen < deadline) dead.push(node);
    }
    for (const node of dead) this.remove(node.id, node.incarnation);
    return dead;
  }

  /** Whether messages from this run should be ignored (it was declared dead). */
  isDead(id: string, incarnation: string): boolean {
    return this.tombstones.has(`${id}/${incarnation}`);
  }

  get(id: string): PeerNode | undefined {
    return this.nodes.get(id);
  }

  /** Ids of the live peers. */
  liveIds(): string[] {
    return [...this.nodes.keys()];
  }

  live(): PeerNode[] {
    return [...this.nodes.values()];
  }

  private bury(node: { id: string; incarnation: string }): void {
    if (this.tombstones.size >= MAX_TOMBSTONES) {
      const oldest = this.tombstones.values().next().value;
      if (oldest !== undefined) this.tombstones.delete(oldest);
    }
    this.tombstones.add(`${node.id}/${node.incarnation}`);
  }
}
