import type { AppConfig } from '../config/schema.js';
import type { ChannelSnapshot, CoreApi, PublishRequest } from '../core/types.js';
import type { ClusterNode } from './cluster-node.js';
import { anyTrue, channelDetailsFrom, channelListsFrom, mergeChannelDetails, userIdListsFrom, type ChannelDetail, type LocalQueries } from './queries.js';

/**
 * The HTTP API's view of a clustered node: publishing stays local (the core
 * forwards to other nodes itself), queries answer for the whole cluster by
 * asking every live node and merging with this node's own state.
 */
export class ClusteredCoreApi implements CoreApi {
  constructor(
    private readonly local: CoreApi,
    private readonly localQueries: LocalQueries,
    private readonly cluster: ClusterNode,
  ) {}

  findAppById(id: string): AppConfig | undefined {
    return this.local.findAppById(id);
  }

  publish(req: PublishRequest): void {
    this.local.publish(req);
  }

  async listChannels(app: AppConfig, prefix?: string): Promise<ChannelSnapshot[]> {
    const mine = this.localQueries.channelDetails(app.id, prefix);
    const remote = await this.cluster.query(prefix === undefined ? { q: 'channels', app: app.id } : { q: 'channels', app: app.id, prefix });
    const merged = mergeChannelDetails([mine, ...channelListsFrom(remote.answers)]);
    return [...merged].map(([name, m]) => toSnapshot(name, m));
  }

  async getChannel(app: AppConfig, name: string): Promise<ChannelSnapshot | undefined> {
    const mine = this.localQueries.channelDetail(app.id, name);
    const remote = await this.cluster.query({ q: 'channel', app: app.id, name });
    const details: ChannelDetail[] = channelDetailsFrom(remote.answers).filter((d) => d.name === name);
    if (mine !== undefined) details.push(mine);
    if (details.length === 0) return undefined;
    const merged = mergeChannelDetails([details]).get(name)!;
    return toSnapshot(name, merged);
  }

  async hasCachedEvent(app: AppConfig, name: string): Promise<boolean> {
    if (this.localQueries.hasCachedEvent(app.id, name)) return true;
    const remote = await this.cluster.query({ q: 'cached', app: app.id, name });
    return anyTrue(remote.answers);
  }

  async presenceUserIds(app: AppConfig, name: string): Promise<string[]> {
    const ids = new Set(this.localQueries.presenceUserIds(app.id, name));
    const remote = await this.cluster.query({ q: 'presence-users', app: app.id, name });
    for (const list of userIdListsFrom(remote.answers)) for (const id of list) ids.add(id);
    return [...ids];
  }

  async terminateUserConnections(app: AppConfig, userId: string): Promise<void> {
    this.localQueries.terminateUser(app.id, userId);
    await this.cluster.query({ q: 'terminate-user', app: app.id, user: userId });
  }
}

function toSnapshot(name: string, merged: { subscriptionCount: number; users?: Set<string> }): ChannelSnapshot {
  return merged.users !== undefined
    ? { name, subscriptionCount: merged.subscriptionCount, userCount: merged.users.size }
    : { name, subscriptionCount: merged.subscriptionCount };
}
