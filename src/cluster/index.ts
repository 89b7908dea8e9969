export { ClusterNode, type ClusterHost, type ClusterNodeOptions } from './cluster-node.js';
export type { ClusterQuery, NodeLoad } from './messages.js';
export type { CachedEvent } from './queries.js';
export { clusterMetrics } from '../metrics/index.js';
