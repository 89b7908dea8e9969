import type { LeaseHolder } from './types.js';

interface Lease {
  owner: string;
  token: number;
  expiresAt: number;
}

/** Leases kept in memory (local bus, and the primary for IPC workers). */
export class LeaseTable {
  private readonly leases = new Map<string, Lease>();
  private lastToken = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  acquire(key: string, owner: string, ttlMs: number): LeaseHolder {
    const now = this.now();
    const lease = this.leases.get(key);
    if (lease !== undefined && lease.expiresAt > now) {
      if (lease.owner === owner) lease.expiresAt = now + ttlMs;
      return { owner: lease.owner, token: lease.token };
    }
    const fresh = { owner, token: ++this.lastToken, expiresAt: now + ttlMs };
    this.leases.set(key, fresh);
    return { owner, token: fresh.token };
  }

  release(key: string, owner: string): void {
    if (this.leases.get(key)?.owner === owner) this.leases.delete(key);
  }
}
