/** A user that appeared on, or vanished from, the other nodes' side of a presence channel. */
export interface RemoteMemberChange {
  readonly userId: string;
  readonly userInfo?: unknown;
}

/**
 * What the other nodes have of one presence channel that this node has
 * local subscribers for: node id → (user id → user info). A user on two
 * nodes counts once; changes report only a user's first appearance and last
 * disappearance across the remote nodes.
 */
export class ChannelReplica {
  private readonly byNode = new Map<string, Map<string, unknown>>();
  /** User id → on how many remote nodes. */
  private readonly nodeCount = new Map<string, number>();

  has(userId: string): boolean {
    return this.nodeCount.has(userId);
  }

  /** On how many remote nodes the user is. */
  nodesWith(userId: string): number {
    return this.nodeCount.get(userId) ?? 0;
  }

  /** Each remote user once, with the info of the first node that has them. */
  *members(): Iterable<[string, unknown]> {
    const seen = new Set<string>();
    for (const members of this.byNode.values()) {
      for (const [userId, info] of members) {
        if (seen.has(userId)) continue;
        seen.add(userId);
        yield [userId, info];
      }
    }
  }

  /** A user joined on `node`; returns whether they are new to the remote side. */
  join(node: string, userId: string, userInfo: unknown): boolean {
    let members = this.byNode.get(node);
    if (members === undefined) this.byNode.set(node, (members = new Map()));
    if (members.has(userId)) {
      members.set(userId, userInfo);
      return false;
    }
    members.set(userId, userInfo);
    const count = (this.nodeCount.get(userId) ?? 0) + 1;
    this.nodeCount.set(userId, count);
    return count === 1;
  }

  /** A user left `node`; returns whether they are gone from the remote side. */
  leave(node: string, userId: string): boolean {
    const members = this.byNode.get(node);
    if (members === undefined || !members.delete(userId)) return false;
    if (members.size === 0) this.byNode.delete(node);
    const count = (this.nodeCount.get(userId) ?? 1) - 1;
    if (count > 0) {
      this.nodeCount.set(userId, count);
      return false;
    }
    this.nodeCount.delete(userId);
    return true;
  }

  /** Replace what `node` has with a full list; returns who appeared and who vanished remotely. */
  replace(node: string, list: ReadonlyArray<readonly [string, unknown]>): { added: RemoteMemberChange[]; removed: RemoteMemberChange[] } {
    const incoming = new Map(list);
    const added: RemoteMemberChange[] = [];
    const removed: RemoteMemberChange[] = [];
    const current = this.byNode.get(node);
    if (current !== undefined) {
      for (const userId of [...current.keys()]) {
        if (!incoming.has(userId) && this.leave(node, userId)) removed.push({ userId });
      }
    }
    for (const [userId, info] of incoming) {
      if (this.join(node, userId, info)) added.push({ userId, userInfo: info });
    }
    return { added, removed };
  }

  /** Drop everything a node had (it died or restarted); returns who vanished remotely. */
  dropNode(node: string): RemoteMemberChange[] {
    return this.replace(node, []).removed;
  }

  get isEmpty(): boolean {
    return this.byNode.size === 0;
  }
}
