/**
 * A node's signed-in users travel in parts: a busy node's whole list could
 * be larger than a broker accepts in one message (NATS: 1 MB by default).
 * The receiver replaces what it knew of that node only once a round is whole.
 */

/** Characters of user pairs per part (JSON escaping aside), well under any broker's limit. */
export const USERS_SYNC_PART_CHARS = 128 * 1024;

export type UserPair = [appId: string, userId: string];

/** At least one part: an empty list still tells the others that nobody is signed in here. */
export function splitUsers(users: readonly UserPair[], maxChars = USERS_SYNC_PART_CHARS): UserPair[][] {
  const parts: UserPair[][] = [[]];
  let size = 0;
  for (const pair of users) {
    const cost = pair[0].length + pair[1].length + 8; // quotes, comma and brackets
    let current = parts[parts.length - 1]!;
    if (size + cost > maxChars && current.length > 0) {
      parts.push((current = []));
      size = 0;
    }
    current.push(pair);
    size += cost;
  }
  return parts;
}

/** Where a part belongs: a round of one node's run, its index and the round's size. */
export interface UsersSyncPart {
  readonly from: string;
  readonly inc: string;
  readonly users: UserPair[];
  readonly round?: string | undefined;
  readonly part?: number | undefined;
  readonly parts?: number | undefined;
}

/** Collects each node's parts (one round per node at a time) until a round is whole. */
export class UsersSyncAssembler {
  private readonly pending = new Map<string, { inc: string; round: string; next: number; users: UserPair[] }>();

  /** The node's whole list once the round `part` belongs to is complete; null until then (or when a part went missing). */
  add(part: UsersSyncPart): UserPair[] | null {
    const parts = part.parts ?? 1;
    if (parts === 1) {
      this.pending.delete(part.from);
      return part.users;
    }
    let round = this.pending.get(part.from);
    if (round === undefined || round.inc !== part.inc || round.round !== part.round) {
      // A newer round replaces an unfinished one; a round joined midway is waited out.
      this.pending.delete(part.from);
      if (part.part !== 0) return null;
      round = { inc: part.inc, round: part.round ?? '', next: 0, users: [] };
      this.pending.set(part.from, round);
    }
    if (part.part !== round.next) {
      // A part was lost (the link dropped it): this round cannot complete; the node sends a new one when its link comes back.
      this.pending.delete(part.from);
      return null;
    }
    for (const pair of part.users) round.users.push(pair);
    round.next++;
    if (round.next < parts) return null;
    this.pending.delete(part.from);
    return round.users;
  }

  forget(node: string): void {
    this.pending.delete(node);
  }
}
