import type { AppState } from '../core/app-state.js';
import { deliverToChannel } from '../core/delivery.js';
import { notifyWatchers, terminateUser } from '../core/users.js';
import { classifyChannel } from '../protocol/channels.js';
import { memberAdded, memberRemoved } from '../protocol/frames.js';
import { frameText } from '../transport/frame.js';
import { broadcast } from '../transport/outbound.js';
import type { ClusterHost } from './cluster-node.js';
import type { ClusterQuery, NodeLoad } from './messages.js';
import { answerQuery, type CachedEvent, type ChannelDetail, type LocalQueries } from './queries.js';

/**
 * The node's state as the cluster layer sees it: where remote events and
 * presence changes land, and where peers' queries are answered from.
 */
export class CoreClusterHost implements ClusterHost, LocalQueries {
  constructor(
    private readonly apps: ReadonlyMap<string, AppState>,
    private readonly connectionCount: () => number,
  ) {}

  deliver(appId: string, channelName: string, json: string, excludeSocketId: string | undefined): void {
    const app = this.apps.get(appId);
    if (app === undefined) return;
    const channel = app.channels.get(channelName);
    const isCache = channel !== undefined ? channel.kind.cache : classifyChannel(channelName)?.cache === true;
    deliverToChannel(app, channelName, json, isCache, excludeSocketId);
  }

  remoteMemberAdded(appId: string, channelName: string, userId: string, userInfo: unknown): void {
    const channel = this.apps.get(appId)?.channels.get(channelName);
    // Members here already saw this user join (through the local socket).
    if (channel?.members == null || channel.members.has(userId)) return;
    broadcast(frameText(memberAdded(channelName, userId, userInfo)), channel.subscribers);
  }

  remoteMemberRemoved(appId: string, channelName: string, userId: string): void {
    const channel = this.apps.get(appId)?.channels.get(channelName);
    // Still here through a local socket: not gone for anyone.
    if (channel?.members == null || channel.members.has(userId)) return;
    broadcast(frameText(memberRemoved(channelName, userId)), channel.subscribers);
  }

  answer(query: ClusterQuery): unknown {
    return answerQuery(this, query);
  }

  localMembers(appId: string, channelName: string): Array<[string, unknown]> {
    const members = this.apps.get(appId)?.channels.get(channelName)?.members;
    if (members == null) return [];
    const list: Array<[string, unknown]> = [];
    for (const [id, member] of members) list.push([id, member.userInfo]);
    return list;
  }

  localPresenceChannels(): Array<[string, string]> {
    const list: Array<[string, string]> = [];
    for (const [appId, app] of this.apps) {
      for (const channel of app.channels.values()) if (channel.members !== null && channel.members.size > 0) list.push([appId, channel.name]);
    }
    return list;
  }

  remoteUserOnline(appId: string, userId: string): void {
    const app = this.apps.get(appId);
    // Signed in here too: the watchers here heard it when the local socket signed in.
    if (app === undefined || app.users.has(userId)) return;
    notifyWatchers(app, userId, 'online');
  }

  remoteUserOffline(appId: string, userId: string): void {
    const app = this.apps.get(appId);
    // Still signed in here: not offline for anyone.
    if (app === undefined || app.users.has(userId)) return;
    notifyWatchers(app, userId, 'offline');
  }

  localSignedInUsers(): Array<[string, string]> {
    const list: Array<[string, string]> = [];
    for (const [appId, app] of this.apps) for (const userId of app.users.keys()) list.push([appId, userId]);
    return list;
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
    return { connections: this.connectionCount(), channels };
  }

  // ---- LocalQueries ---------------------------------------------------------------

  channelDetails(appId: string, prefix?: string): ChannelDetail[] {
    const app = this.apps.get(appId);
    if (app === undefined) return [];
    const list: ChannelDetail[] = [];
    for (const channel of app.channels.values()) {
      if (prefix !== undefined && !channel.name.startsWith(prefix)) continue;
      list.push(detail(channel));
    }
    return list;
  }

  channelDetail(appId: string, name: string): ChannelDetail | undefined {
    const channel = this.apps.get(appId)?.channels.get(name);
    return channel === undefined ? undefined : detail(channel);
  }

  hasCachedEvent(appId: string, name: string): boolean {
    return this.apps.get(appId)?.cache.has(name) === true;
  }

  cachedEvent(appId: string, name: string): CachedEvent | undefined {
    const cache = this.apps.get(appId)?.cache;
    const json = cache?.get(name);
    if (cache === undefined || json === undefined) return undefined;
    const remaining = cache.getRemainingTTL(name);
    return { json, ageMs: Number.isFinite(remaining) ? Math.max(0, cache.ttl - remaining) : 0 };
  }

  presenceUserIds(appId: string, name: string): string[] {
    const members = this.apps.get(appId)?.channels.get(name)?.members;
    return members == null ? [] : [...members.keys()];
  }

  terminateUser(appId: string, userId: string): number {
    const app = this.apps.get(appId);
    return app === undefined ? 0 : terminateUser(app, userId);
  }
}

function detail(channel: { name: string; subscribers: ReadonlySet<unknown>; members: ReadonlyMap<string, unknown> | null }): ChannelDetail {
  return channel.members !== null
    ? { name: channel.name, subscriptionCount: channel.subscribers.size, userIds: [...channel.members.keys()] }
    : { name: channel.name, subscriptionCount: channel.subscribers.size };
}
