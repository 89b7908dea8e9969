import { Counter, Gauge } from 'prom-client';
import { registry } from '../metrics/index.js';

// Cluster metrics, on the node's one registry. (They could move into
// src/metrics/index.ts with the others; they live here until that file's owner takes them.)
const registers = [registry];

export const clusterMetrics = {
  skipped: new Counter({
    name: 'switchboard_cluster_messages_skipped_total',
    help: 'Cross-node messages not sent because the broker link was down (degraded mode) or the broker refused them (kind=refused), by kind',
    labelNames: ['kind'] as const,
    registers,
  }),
  received: new Counter({ name: 'switchboard_cluster_messages_received_total', help: 'Cluster messages received from other nodes, by type', labelNames: ['type'] as const, registers }),
  invalid: new Counter({ name: 'switchboard_cluster_messages_invalid_total', help: 'Cluster payloads dropped because they did not parse or check', registers }),
  requests: new Counter({ name: 'switchboard_cluster_requests_total', help: 'Cluster-wide requests by outcome (complete, partial, local_only)', labelNames: ['outcome'] as const, registers }),
  nodes: new Gauge({ name: 'switchboard_cluster_nodes', help: 'Live nodes this node knows, itself included', registers }),
  nodesDeclaredDead: new Counter({ name: 'switchboard_cluster_nodes_declared_dead_total', help: 'Peers declared dead (timeout, leader verdict or restart)', labelNames: ['reason'] as const, registers }),
  degraded: new Gauge({ name: 'switchboard_cluster_degraded', help: '1 while cross-node delivery is unavailable (broker link down or circuit open)', registers }),
  leader: new Gauge({ name: 'switchboard_cluster_leader', help: '1 while this node holds the leader lease', registers }),
  linkChanges: new Counter({ name: 'switchboard_cluster_link_state_changes_total', help: 'Broker link state changes, by new state', labelNames: ['state'] as const, registers }),
};
