import { hostname } from 'node:os';
import { createTransport, type TransportSettings } from '../adapters/create.js';
import type { ClusterTransport } from '../adapters/types.js';
import type { AppState } from '../core/app-state.js';
import type { LocalReads } from '../core/local-reads.js';
import type { CoreApi } from '../core/types.js';
import type { Logger } from '../util/logger.js';
import { ClusterNode } from './cluster-node.js';
import { ClusteredCoreApi } from './clustered-api.js';
import { CoreClusterHost } from './core-host.js';
import type { NodeLoad } from './messages.js';
import { workerSlot } from './workers.js';

/** The cluster part of the node's config (times in seconds, as in the config file). */
export interface ClusterSettings extends Omit<TransportSettings, 'nodeId'> {
  nodeId?: string | undefined;
  heartbeatInterval: number;
  nodeTimeout: number;
  requestTimeout: number;
  leaderLease: number;
}

/** What joining needs from the node. */
export interface NodeState {
  apps: ReadonlyMap<string, AppState>;
  /** The node's one local-read API: peers' queries are answered from it. */
  reads: LocalReads;
  connectionCount(): number;
  /** The monitor's part of this node's heartbeat load. */
  monitorLoad?(): Omit<NodeLoad, 'connections' | 'channels'>;
  /** An app changed in the app store (announced by another node or the CLI). */
  appChanged?(appId: string, keys: readonly string[]): void;
  /** The node's own (single-node) API, wrapped so that queries cover the cluster. */
  api: CoreApi;
  host: string;
  port: number;
}

export interface JoinedCluster {
  readonly node: ClusterNode;
  /** The API for the HTTP handler: queries answer for the whole cluster. */
  readonly api: CoreApi;
}

/**
 * Join the cluster the settings describe, or return null when this node is
 * alone (local adapter, no workers). `transport` overrides the adapter (tests).
 */
export async function joinCluster(settings: ClusterSettings, state: NodeState, logger: Logger, transport?: ClusterTransport): Promise<JoinedCluster | null> {
  const nodeId = defaultNodeId(settings.nodeId, state.port);
  const link = transport ?? createTransport({ ...settings, nodeId });
  if (link === null) return null;
  const host = new CoreClusterHost(state.apps, state.reads, state.connectionCount, state.monitorLoad, state.appChanged);
  const node = new ClusterNode(link, host, {
    nodeId,
    address: `${state.host}:${state.port}`,
    heartbeatIntervalMs: settings.heartbeatInterval * 1000,
    nodeTimeoutMs: settings.nodeTimeout * 1000,
    requestTimeoutMs: settings.requestTimeout * 1000,
    leaderLeaseMs: settings.leaderLease * 1000,
    logger: logger.child({ nodeId }),
  });
  await node.start();
  logger.info({ nodeId, adapter: link.kind, link: link.state }, 'joined the cluster');
  return { node, api: new ClusteredCoreApi(state.api, state.reads, node) };
}

/**
 * The configured id, or one that is unique on this host and stable across
 * restarts on the same port (so that a restart replaces the old run). A
 * worker adds its slot: workers share the port.
 */
function defaultNodeId(configured: string | undefined, port: number): string {
  const base = configured ?? `${hostname()}-${port}`;
  const slot = workerSlot();
  return slot === null ? base : `${base}-w${slot}`;
}
