import type { AppState } from '../core/app-state.js';
import type { CoreApi } from '../core/types.js';
import type { NodeActivity } from './rates.js';

/** One node as the dashboard shows it. `load` holds whatever numbers the node reports (heartbeat or local sample). */
interface NodeView {
  id: string;
  address: string;
  self: boolean;
  leader: boolean;
  /** Ms since its last heartbeat (0 for this node). */
  lastSeenMs: number;
  load: Record<string, unknown>;
}

export interface ClusterView {
  nodeId: string;
  adapter: string;
  link: string;
  degraded: boolean;
  leader: string | null;
  nodes: NodeView[];
}

/** Where the dashboard reads from: the node's own objects, never a copy of their rules. */
export interface DashboardSources {
  core: CoreApi;
  /** The apps this node serves now. */
  apps(): Iterable<AppState>;
  cluster(): ClusterView;
  /** Active alerts (the monitor); empty when there is none. */
  alerts?(): unknown[];
  /** The cluster's scaling advice (the monitor, on the leader); null when unknown. */
  scaling?(): unknown;
}

export interface TopChannel {
  appId: string;
  name: string;
  subscriptionCount: number;
  userCount?: number;
}

export interface AppSummary {
  id: string;
  name: string | null;
  enabled: boolean;
  /** Connections on this node. */
  connections: number;
  /** Channels occupied cluster-wide (from the last channel scan). */
  channels: number;
}

export interface Snapshot {
  at: number;
  cluster: ClusterView;
  activity: NodeActivity;
  alerts: unknown[];
  scaling: unknown;
  apps: AppSummary[];
  topChannels: TopChannel[];
}

/** Channels shown in the top list. */
const TOP_CHANNELS = 20;
/** Apps whose channels one scan lists: a node with thousands of apps is scanned in part, busiest first. */
const MAX_SCANNED_APPS = 50;

/** The occupied channels of the busiest apps, cluster-wide: the top list and each app's channel count. */
export async function scanChannels(sources: DashboardSources): Promise<{ top: TopChannel[]; channelsByApp: Map<string, number> }> {
  const apps = [...sources.apps()].sort((a, b) => b.connectionCount - a.connectionCount).slice(0, MAX_SCANNED_APPS);
  const channelsByApp = new Map<string, number>();
  const all: TopChannel[] = [];
  await Promise.all(
    apps.map(async (app) => {
      const channels = await sources.core.listChannels(app);
      channelsByApp.set(app.config.id, channels.length);
      for (const c of channels)
        all.push(
          c.userCount === undefined
            ? { appId: app.config.id, name: c.name, subscriptionCount: c.subscriptionCount }
            : { appId: app.config.id, name: c.name, subscriptionCount: c.subscriptionCount, userCount: c.userCount },
        );
    }),
  );
  all.sort((a, b) => b.subscriptionCount - a.subscriptionCount || a.name.localeCompare(b.name));
  return { top: all.slice(0, TOP_CHANNELS), channelsByApp };
}

export function summarizeApps(sources: DashboardSources, channelsByApp: ReadonlyMap<string, number>): AppSummary[] {
  return [...sources.apps()]
    .map((app) => ({
      id: app.config.id,
      name: app.config.name ?? null,
      enabled: app.config.enabled,
      connections: app.connectionCount,
      channels: channelsByApp.get(app.config.id) ?? 0,
    }))
    .sort((a, b) => b.connections - a.connections || a.id.localeCompare(b.id));
}

/** What the cluster layer says of the nodes (or null when alone), with this node's own fresh sample folded in. */
export function clusterView(
  described: {
    nodeId: string;
    adapter: string;
    link: string;
    degraded: boolean;
    leader: string | null;
    nodes: ReadonlyArray<{ id: string; address: string; self: boolean; leader: boolean; lastSeenMs: number; load: object }>;
  } | null,
  self: { id: string; address: string; load: Record<string, unknown> },
): ClusterView {
  if (described === null) {
    return {
      nodeId: self.id,
      adapter: 'local',
      link: 'alone',
      degraded: false,
      leader: self.id,
      nodes: [{ id: self.id, address: self.address, self: true, leader: true, lastSeenMs: 0, load: self.load }],
    };
  }
  return {
    nodeId: described.nodeId,
    adapter: described.adapter,
    link: described.link,
    degraded: described.degraded,
    leader: described.leader,
    nodes: described.nodes.map((n) => ({
      id: n.id,
      address: n.address,
      self: n.self,
      leader: n.leader,
      lastSeenMs: n.lastSeenMs,
      load: n.self ? { ...n.load, ...self.load } : { ...n.load },
    })),
  };
}
