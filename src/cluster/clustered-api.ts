import type { AppState } from '../core/app-state.js';
import type { LocalReads } from '../core/local-reads.js';
import { toSnapshot } from '../core/node-core.js';
import type { ChannelSnapshot, CoreApi, PublishRequest } from '../core/types.js';
import type { ClusterNode } from './cluster-node.js';
import { anyTrue, channelDetailsFrom, channelListsFrom, mergeChannelDetails, userIdListsFrom, type ChannelDetail } from './queries.js';

/**
 * The HTTP API's view of a clustered node: publishing stays local (the core
 * forwards to other nodes itself), queries answer for the whole cluster by
 * asking every live node and merging with this node's own state.
 */
export class ClusteredCoreApi implements CoreApi {
  constructor(
    private readonly local: CoreApi,
    private readonly reads: LocalReads,
    private readonly cluster: ClusterNode,
  ) {}

  findApp(id: string): AppState | undefined | Promise<AppState | undefined> {
    return this.local.findApp(id);
  }

  publish(req: PublishRequest): void | Promise<void> {
    return this.local.publish(req);
  }

  async listChannels(app: AppState, prefix?: string): Promise<ChannelSnapshot[]> {
    const appId = app.config.id;
    const mine = this.reads.channelDetails(appId, prefix);
    const remote = await this.cluster.query(prefix === undefined ? { q: 'channels', app: appId } : { q: 'channels', app: appId, prefix });
    return merged([mine, ...channelListsFrom(remote.answers)]);
  }

  async getChannel(app: AppState, name: string): Promise<ChannelSnapshot | undefined> {
    return (await this.getChannels(app, [name])).get(name);
  }

  async getChannels(app: AppState, names: readonly string[]): Promise<Map<string, ChannelSnapshot>> {
    const appId = app.config.id;
    const mine = this.reads.channelDetailsNamed(appId, names);
    const wanted = new Set(names);
    // One question for every channel: a 10-channel trigger costs one round trip, not ten.
    const remote = await this.cluster.query(
      names.length === 1 ? { q: 'channel', app: appId, name: names[0]! } : { q: 'channels-named', app: appId, names: [...names] },
    );
    const lists: ChannelDetail[][] = [mine, channelDetailsFrom(remote.answers), ...channelListsFrom(remote.answers)];
    return new Map(merged(lists.map((list) => list.filter((d) => wanted.has(d.name)))).map((s) => [s.name, s]));
  }

  async hasCachedEvent(app: AppState, name: string): Promise<boolean> {
    if (this.reads.hasCachedEvent(app.config.id, name)) return true;
    const remote = await this.cluster.query({ q: 'cached', app: app.config.id, name });
    return anyTrue(remote.answers);
  }

  async presenceUserIds(app: AppState, name: string): Promise<string[]> {
    const ids = new Set(this.reads.presenceUserIds(app.config.id, name));
    const remote = await this.cluster.query({ q: 'presence-users', app: app.config.id, name });
    for (const list of userIdListsFrom(remote.answers)) for (const id of list) ids.add(id);
    return [...ids];
  }

  async terminateUserConnections(app: AppState, userId: string): Promise<void> {
    this.reads.terminateUser(app.config.id, userId);
    await this.cluster.query({ q: 'terminate-user', app: app.config.id, user: userId });
  }
}

function merged(lists: ReadonlyArray<readonly ChannelDetail[]>): ChannelSnapshot[] {
  return [...mergeChannelDetails(lists)].map(([name, m]) =>
    toSnapshot(
      m.users !== undefined ? { name, subscriptionCount: m.subscriptionCount, userIds: [...m.users] } : { name, subscriptionCount: m.subscriptionCount },
    ),
  );
}
