import cluster from 'node:cluster';
import { IpcAdapter, relaysThroughParent } from './ipc.js';
import { NatsAdapter } from './nats.js';
import { RedisAdapter } from './redis.js';
import type { ClusterTransport } from './types.js';

export interface TransportSettings {
  adapter: 'local' | 'redis' | 'nats';
  /** Comma-separated Redis URLs (several = shards); sentinel and cluster URLs list their hosts with commas too. */
  redisUrl?: string | undefined;
  /** Comma-separated NATS server URLs. */
  natsUrl?: string | undefined;
  keyPrefix: string;
  nodeId: string;
  /** Milliseconds a batch of outgoing cluster messages may wait for more while the node publishes at least `clusterCoalesceMinRate` per second. */
  clusterCoalesceMs: number;
  clusterCoalesceMinRate: number;
}

/**
 * The transport for a node's settings, or null when the node is alone (the
 * local adapter outside `--workers` and `switchboard cluster`): then the cluster layer is not started
 * and the hot path does no cluster work at all.
 */
export function createTransport(settings: TransportSettings): ClusterTransport | null {
  const link = { prefix: settings.keyPrefix, coalesceMs: settings.clusterCoalesceMs, coalesceMinRate: settings.clusterCoalesceMinRate };
  switch (settings.adapter) {
    case 'redis':
      return new RedisAdapter({ ...link, urls: splitRedisUrls(settings.redisUrl) });
    case 'nats':
      return new NatsAdapter({ ...link, servers: splitUrls(settings.natsUrl), name: `switchboard ${settings.nodeId}` });
    case 'local':
      // A node:cluster worker reaches its siblings through the primary; a supervised node through the supervisor.
      return cluster.isWorker || relaysThroughParent() ? new IpcAdapter(link) : null;
  }
}

function splitUrls(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * Redis URLs separated by commas. `redis-sentinel://h:p,h:p/name` and
 * `redis-cluster://h:p,h:p` list hosts with commas too, so a comma starts a
 * new URL only when a scheme follows it.
 */
export function splitRedisUrls(value: string | undefined): string[] {
  return (value ?? '')
    .split(/,(?=\s*[a-z][a-z0-9+.-]*:\/\/)/i)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
