export { ClusterNode, type ClusterHost, type ClusterNodeOptions, type ClusterDescription, type ClusterMember, type QueryResult } from './cluster-node.js';
export type { ClusterQuery, NodeLoad } from './messages.js';
export { answerQuery, mergeChannelDetails, channelListsFrom, channelDetailsFrom, userIdListsFrom, anyTrue, sumNumbers, youngestCachedEvent, type CachedEvent, type ChannelDetail } from './queries.js';
export { LeaderElector, type LeaderState } from './leader.js';
export { clusterMetrics } from '../metrics/index.js';
export { ClusteredCoreApi } from './clustered-api.js';
export { CoreClusterHost } from './core-host.js';
export { joinCluster, defaultNodeId, type ClusterSettings, type JoinedCluster, type NodeState } from './join.js';
export { runPrimary, resolveWorkerCount, workerSlot, type PrimaryOptions } from './workers.js';
