/** The answers a cluster request collected, and who did not answer in time. */
export interface Collected {
  readonly answers: Map<string, unknown>;
  /** Nodes that were expected and did not answer (timed out or refused). */
  readonly missing: string[];
}

interface Pending {
  readonly expected: Set<string>;
  readonly answers: Map<string, unknown>;
  readonly failed: string[];
  readonly resolve: (collected: Collected) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * Requests in flight: each waits for the nodes the registry knew when it was
 * sent, and resolves when all have answered, left, or the timeout passed.
 */
export class RequestTracker {
  private readonly pending = new Map<string, Pending>();
  private counter = 0;

  constructor(private readonly idPrefix: string) {}

  /** A fresh request id, unique across the cluster (it starts with the node's incarnation). */
  nextId(): string {
    return `${this.idPrefix}:${(++this.counter).toString(36)}`;
  }

  /** Wait for `expected` nodes to answer request `id`. */
  collect(id: string, expected: Iterable<string>, timeoutMs: number): Promise<Collected> {
    const expectedSet = new Set(expected);
    return new Promise((resolve) => {
      if (expectedSet.size === 0) {
        resolve({ answers: new Map(), missing: [] });
        return;
      }
      const timer = setTimeout(() => this.finish(id), timeoutMs);
      timer.unref();
      this.pending.set(id, { expected: expectedSet, answers: new Map(), failed: [], resolve, timer });
    });
  }

  /** Record one node's answer. `ok: false` counts the node as missing. */
  answer(id: string, from: string, ok: boolean, value: unknown): void {
    const entry = this.pending.get(id);
    if (entry === undefined || !entry.expected.delete(from)) return;
    if (ok) entry.answers.set(from, value);
    else entry.failed.push(from);
    if (entry.expected.size === 0) this.finish(id);
  }

  /** A node left: stop waiting for it anywhere. */
  nodeGone(nodeId: string): void {
    for (const [id, entry] of this.pending) {
      if (entry.expected.delete(nodeId) && entry.expected.size === 0) this.finish(id);
    }
  }

  /** Stop waiting for one request (it could not be sent); it resolves with everyone missing. */
  cancel(id: string): void {
    this.finish(id);
  }

  /** Resolve everything now (shutdown). */
  abortAll(): void {
    for (const id of [...this.pending.keys()]) this.finish(id);
  }

  get size(): number {
    return this.pending.size;
  }

  private finish(id: string): void {
    const entry = this.pending.get(id);
    if (entry === undefined) return;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    entry.resolve({ answers: entry.answers, missing: [...entry.failed, ...entry.expected] });
  }
}
