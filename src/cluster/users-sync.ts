/**
 * A node's full lists (its signed-in users; its share of the replicated
 * apps' channels) travel in parts: a busy node's whole list could be larger
 * than a broker accepts in one message (NATS: 1 MB by default). The
 * receiver replaces what it knew of that node only once a round is whole.
 */
import type { ShareTuple } from './messages.js';

/** Characters of list entries per part (JSON escaping aside), well under any broker's limit. */
const USERS_SYNC_PART_CHARS = 128 * 1024;

export type UserPair = [appId: string, userId: string];

/** At least one part: an empty list still tells the others that the node holds nothing. */
function splitParts<T>(items: readonly T[], costOf: (item: T) => number, maxChars = USERS_SYNC_PART_CHARS): T[][] {
  const parts: T[][] = [[]];
  let size = 0;
  for (const item of items) {
    const cost = costOf(item);
    let current = parts[parts.length - 1]!;
    if (size + cost > maxChars && current.length > 0) {
      parts.push((current = []));
      size = 0;
    }
    current.push(item);
    size += cost;
  }
  return parts;
}

export function splitUsers(users: readonly UserPair[], maxChars = USERS_SYNC_PART_CHARS): UserPair[][] {
  return splitParts(users, (pair) => pair[0].length + pair[1].length + 8, maxChars); // quotes, comma and brackets
}

export function splitShares(shares: readonly ShareTuple[], maxChars = USERS_SYNC_PART_CHARS): ShareTuple[][] {
  // Members' info can be anything: measured, not guessed.
  return splitParts(shares, (share) => JSON.stringify(share).length + 1, maxChars);
}

/** Where a part belongs: a round of one node's run, its index and the round's size. */
export interface RoundPart {
  readonly from: string;
  readonly inc: string;
  readonly round?: string | undefined;
  readonly part?: number | undefined;
  readonly parts?: number | undefined;
}

export interface UsersSyncPart extends RoundPart {
  readonly users: UserPair[];
}

/** Collects each node's parts (one round per node at a time) until a round is whole. */
export class SyncAssembler<P extends RoundPart, T> {
  private readonly pending = new Map<string, { inc: string; round: string; next: number; items: T[] }>();

  constructor(private readonly itemsOf: (part: P) => readonly T[]) {}

  /** The node's whole list once the round `part` belongs to is complete; null until then (or when a part went missing). */
  add(part: P): T[] | null {
    const parts = part.parts ?? 1;
    if (parts === 1) {
      this.pending.delete(part.from);
      return [...this.itemsOf(part)];
    }
    let round = this.pending.get(part.from);
    if (round === undefined || round.inc !== part.inc || round.round !== part.round) {
      // A newer round replaces an unfinished one; a round joined midway is waited out.
      this.pending.delete(part.from);
      if (part.part !== 0) return null;
      round = { inc: part.inc, round: part.round ?? '', next: 0, items: [] };
      this.pending.set(part.from, round);
    }
    if (part.part !== round.next) {
      // A part was lost (the link dropped it): this round cannot complete; the node sends a new one when its link comes back.
      this.pending.delete(part.from);
      return null;
    }
    for (const item of this.itemsOf(part)) round.items.push(item);
    round.next++;
    if (round.next < parts) return null;
    this.pending.delete(part.from);
    return round.items;
  }

  forget(node: string): void {
    this.pending.delete(node);
  }
}

export class UsersSyncAssembler extends SyncAssembler<UsersSyncPart, UserPair> {
  constructor() {
    super((part) => part.users);
  }
}
