import type { AppConfig, Config } from '../config/schema.js';
import type { WebhookSink } from '../webhooks/types.js';
import { AppState } from './app-state.js';
import type { ClusterLink } from './cluster-link.js';
import type { NodeTransport } from '../transport/types.js';
import { clientFrames } from './membership-frames.js';
import { AppWebhooks } from './webhook-events.js';

/** What building an app's runtime state needs from the node. */
export interface AppWiring {
  readonly config: Config;
  readonly webhooks: WebhookSink;
  /** The cluster, once joined; null while alone (or before joining). */
  readonly cluster: ClusterLink | null;
  readonly transport: NodeTransport;
}

/**
 * The one way an app becomes live on a node, whether it comes from the
 * config at start or from the app store on first use: its state, the
 * client-frame observer, its webhook events, and its seat in the cluster.
 */
export function buildAppState(appConfig: AppConfig, wiring: AppWiring): AppState {
  const { config } = wiring;
  const compression = (appConfig.compression ?? config.compression) === 'deflate';
  const app = new AppState(appConfig, { ttlSeconds: config.cacheTtlSeconds, maxChannels: config.maxCachedChannels }, wiring.transport, compression);
  app.membership.observe(clientFrames(app));
  if (appConfig.webhooks.length > 0) {
    app.webhooks = new AppWebhooks(appConfig.id, app.membership, wiring.webhooks, {
      leaveDelayMs: config.webhookLeaveDelay * 1000,
      countsSubscriptions: appConfig.enableSubscriptionCount,
      // Alone, this node sends; in a cluster, the leader does.
      sends: () => app.cluster === null || app.cluster.isLeader,
      // A dead leader is replaced within its lease; its last heartbeat is at most a node timeout old by then.
      keepUnsentMs: (config.leaderLease + config.nodeTimeout + config.heartbeatInterval) * 1000,
    });
    app.membership.observe(app.webhooks);
  }
  if (wiring.cluster !== null) joinAppToCluster(app, wiring.cluster);
  return app;
}

/** From now on the app's channels, presence and events reach the other nodes. */
export function joinAppToCluster(app: AppState, link: ClusterLink): void {
  app.cluster = link;
  app.membership.announceTo(link.announcerFor(app.config.id));
}
