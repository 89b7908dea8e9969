import type { AppState } from './app-state.js';
import type { Channel } from './channel.js';
import { terminateUser } from './users.js';

/** One channel as this node holds it; presence channels carry their user ids so counts from several nodes can be merged. */
export interface ChannelDetail {
  name: string;
  subscriptionCount: number;
  userIds?: string[];
}

/** A cache channel's last event as this node holds it; `ageMs` since it was stored here. */
export interface CachedEvent {
  json: string;
  ageMs: number;
}

/**
 * What this node holds, read one way for everyone who asks: the HTTP API of
 * a node that is alone, and the other nodes' cluster queries. Local only:
 * merging with the other nodes is the cluster layer's job.
 */
export class LocalReads {
  constructor(private readonly apps: ReadonlyMap<string, AppState>) {}

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

  /** Several channels at once (a trigger's `info`); the unoccupied are left out. */
  channelDetailsNamed(appId: string, names: readonly string[]): ChannelDetail[] {
    const channels = this.apps.get(appId)?.channels;
    if (channels === undefined) return [];
    const list: ChannelDetail[] = [];
    for (const name of names) {
      const channel = channels.get(name);
      if (channel !== undefined) list.push(detail(channel));
    }
    return list;
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

  /** Users with a socket on this node subscribed to the presence channel. */
  presenceUserIds(appId: string, name: string): string[] {
    const members = this.apps.get(appId)?.channels.get(name)?.members;
    return members == null ? [] : [...members.keys()];
  }

  /** Close the user's sockets on this node; returns how many. */
  terminateUser(appId: string, userId: string): number {
    const app = this.apps.get(appId);
    return app === undefined ? 0 : terminateUser(app, userId);
  }
}

function detail(channel: Channel): ChannelDetail {
  return channel.members !== null
    ? { name: channel.name, subscriptionCount: channel.subscriberCount, userIds: [...channel.members.keys()] }
    : { name: channel.name, subscriptionCount: channel.subscriberCount };
}
