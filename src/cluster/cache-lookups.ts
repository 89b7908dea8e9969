import { youngestCachedEvent, type CachedEvent } from './queries.js';

/** Asks the other nodes for their copy of a cache channel's last event (the answers of every live node). */
export type AskPeers = (appId: string, channel: string) => Promise<readonly unknown[]>;

/** Where this node's own copies of cache channels' last events live (the core's per-app cache). */
export interface LocalCache {
  cachedEvent(appId: string, channel: string): CachedEvent | undefined;
  storeCachedEvent(appId: string, channel: string, event: CachedEvent): void;
}

/**
 * Cache channels across nodes. A node keeps the last event of every cache
 * channel it publishes or receives, but it receives a channel's events only
 * while it has subscribers for it: its copy may be stale when the channel
 * gets its first local subscriber again. Then, and only then, it asks the
 * other nodes and keeps the youngest copy. One question per channel at a
 * time: subscribers arriving while it is out wait for the same answer.
 */
export class CacheLookups {
  private readonly inFlight = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly local: LocalCache,
    private readonly askPeers: AskPeers,
  ) {}

  /**
   * The channel's last event cluster-wide, or null when this node's own copy
   * is authoritative (the channel already had local subscribers and no
   * question is out).
   */
  lookup(appId: string, channel: string, firstSubscriber: boolean): Promise<string | undefined> | null {
    const key = `${appId}\n${channel}`;
    const pending = this.inFlight.get(key);
    if (pending !== undefined) return pending;
    if (!firstSubscriber) return null;
    const lookup = this.ask(appId, channel).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, lookup);
    return lookup;
  }

  private async ask(appId: string, channel: string): Promise<string | undefined> {
    const answers = await this.askPeers(appId, channel);
    // Read the local copy after the answers: an event that arrived meanwhile is the youngest.
    const mine = this.local.cachedEvent(appId, channel);
    const youngest = youngestCachedEvent(answers, mine);
    if (youngest !== undefined && youngest !== mine) this.local.storeCachedEvent(appId, channel, youngest);
    return youngest?.json;
  }
}
