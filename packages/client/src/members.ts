/** A presence member as pusher-js hands it out. */
export interface Member {
  id: string;
  info: any;
}

/** pusher-js's `channel.members`: who is on a presence channel, and who "me" is. */
export class Members {
  /** id → user_info, as pusher-js exposes it (laravel-echo's `here()` reads it). */
  members: Record<string, any> = {};
  count = 0;
  myID: string | null = null;
  me: Member | null = null;

  get(id: string): Member | null {
    return Object.hasOwn(this.members, id) ? { id, info: this.members[id] } : null;
  }

  each(callback: (member: Member) => void): void {
    for (const id of Object.keys(this.members)) callback({ id, info: this.members[id] });
  }

  setMyID(id: string): void {
    this.myID = id;
  }

  /** From `subscription_succeeded`'s `{presence: {ids, hash, count}}`; anything malformed reads as empty. */
  onSubscription(data: unknown): void {
    const presence = (data as { presence?: unknown } | null)?.presence as { hash?: unknown; count?: unknown } | undefined;
    const hash = presence?.hash;
    this.members = {};
    if (hash !== null && typeof hash === 'object' && !Array.isArray(hash)) {
      for (const [id, info] of Object.entries(hash as Record<string, unknown>)) this.members[id] = info;
    }
    this.count = Object.keys(this.members).length;
    this.me = this.myID === null ? null : this.get(this.myID);
  }

  /** `member_added` `{user_id, user_info}`; null when malformed. */
  addMember(data: unknown): Member | null {
    const id = userId(data);
    if (id === null) return null;
    if (this.get(id) === null) this.count++;
    this.members[id] = (data as { user_info?: unknown }).user_info;
    return this.get(id);
  }

  /** `member_removed` `{user_id}`; null when not a member. */
  removeMember(data: unknown): Member | null {
    const id = userId(data);
    if (id === null) return null;
    const member = this.get(id);
    if (member === null) return null;
    delete this.members[id];
    this.count--;
    return member;
  }

  reset(): void {
    this.members = {};
    this.count = 0;
    this.myID = null;
    this.me = null;
  }
}

function userId(data: unknown): string | null {
  const id = (data as { user_id?: unknown } | null)?.user_id;
  if (typeof id === 'string' && id !== '') return id;
  if (typeof id === 'number' && Number.isFinite(id)) return String(id);
  return null;
}
