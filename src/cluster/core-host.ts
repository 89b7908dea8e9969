import type { AppState } from '../core/app-state.js';
import { deliverToChannel } from '../core/delivery.js';
import type { LocalReads } from '../core/local-reads.js';
import type { AppMembership } from '../core/membership.js';
import { classifyChannel } from '../protocol/channels.js';
import type { ClusterHost } from './cluster-node.js';
import type { ClusterQuery, NodeLoad } from './messages.js';
import { answerQuery, type CachedEvent } from './queries.js';

/**
 * The node's state as the cluster layer sees it: where remote events land,
 * whose membership models take the other nodes' shares, and where peers'
 * queries are answered from (the core's one local-read API).
 */
export class CoreClusterHost implements ClusterHost {
  constructor(
    private readonly apps: ReadonlyMap<string, AppState>,
    private readonly reads: LocalReads,
    private readonly connectionCount: () => number,
    /** The monitor's part of the heartbeat's load (CPU, ELU, state, the leader's advice). */
    private readonly monitorLoad: () => Omit<NodeLoad, 'connections' | 'channels'> = () => ({}),
    readonly appChanged?: (appId: string, keys: readonly string[]) => void,
  ) {}

  deliver(appId: string, channelName: string, json: string, excludeSocketId: string | undefined): void {
    const app = this.apps.get(appId);
    if (app === undefined) return;
    const channel = app.channels.get(channelName);
    const isCache = channel !== undefined ? channel.kind.cache : classifyChannel(channelName)?.cache === true;
    deliverToChannel(app, channelName, json, isCache, excludeSocketId);
  }

  membership(appId: string): AppMembership | undefined {
    return this.apps.get(appId)?.membership;
  }

  replicated(appId: string): boolean {
    return this.apps.get(appId)?.replicated === true;
  }

  appIds(): Iterable<string> {
    return this.apps.keys();
  }

  cacheChanged(appId: string, channel: string, missed: boolean): void {
    const webhooks = this.apps.get(appId)?.webhooks;
    if (missed) webhooks?.cacheMiss(channel, true);
    else webhooks?.cacheFilled(channel, true);
  }

  answer(query: ClusterQuery): unknown {
    return answerQuery(this.reads, query);
  }

  cachedEvent(appId: string, channelName: string): CachedEvent | undefined {
    return this.reads.cachedEvent(appId, channelName);
  }

  storeCachedEvent(appId: string, channelName: string, event: CachedEvent): void {
    const cache = this.apps.get(appId)?.cache;
    if (cache === undefined) return;
    // Keep the copy's age: it expires when the original does.
    const ttl = cache.ttl - event.ageMs;
    if (ttl > 0) cache.set(channelName, event.json, { ttl });
  }

  load(): NodeLoad {
    let channels = 0;
    for (const app of this.apps.values()) channels += app.channels.size;
    return { connections: this.connectionCount(), channels, ...this.monitorLoad() };
  }
}
