import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHttpHandler } from './api/router.js';
import type { ClusterNode } from './cluster/cluster-node.js';
import { joinCluster } from './cluster/join.js';
import type { Config } from './config/schema.js';
import { NodeCore } from './core/node-core.js';
import { WsFanout, type FanoutOptions } from './transport/outbound.js';
import { Transport } from './transport/server.js';
import { LoadSampler } from './balancer/node-load.js';
import { LoadControl } from './monitor/load-control.js';
import { createDashboard, type Dashboard } from './dashboard/handler.js';
import { clusterView } from './dashboard/snapshot.js';
import { createLogger, type Logger } from './util/logger.js';
import { createWebhooks, type Webhooks } from './webhooks/index.js';
import { NodeHistory } from './history/index.js';
import { createNodeApps } from './apps/node-apps.js';

/** A running Switchboard node. */
export interface RunningNode {
  readonly port: number;
  readonly core: NodeCore;
  /** This node's seat in the cluster; null when it runs alone. */
  readonly cluster: ClusterNode | null;
  /** The webhook pipeline (a no-op when no app has webhooks). */
  readonly webhooks: Webhooks;
  /** Graceful: refuse new connections, ask clients to reconnect elsewhere (4200) over `drainSeconds`, then close. */
  stop(options?: { drainSeconds?: number }): Promise<void>;
}

/** Start a node: one port for WebSocket and HTTP. */
export async function startNode(config: Config, logger: Logger = createLogger(config.logLevel)): Promise<RunningNode> {
  // Started before the port opens, so the first transition already has a queue to go to.
  const webhooks = createWebhooks(config, logger);
  await webhooks.start();
  const fanout = new WsFanout(fanoutOptions(config), logger);
  const apps = createNodeApps(config, logger);
  const core = new NodeCore(config, logger, fanout, webhooks, apps.catalog);
  const history = new NodeHistory(config, logger);
  await history.start();
  core.useHistory(history);
  let draining = false;
  // Until the node has joined its cluster it takes no WebSocket and is not ready: a channel
  // occupied before the join would never be subscribed upstream, and its subscribers would miss remote events.
  let starting = true;
  let cluster: ClusterNode | null = null;
  // The connection limit, the resource monitor and what they decide (src/monitor; docs/operations.md).
  const loadControl = new LoadControl(
    config,
    {
      connections: () => core.connections,
      transport: fanout,
      nodeId: () => cluster?.id ?? `${config.host}:${port}`,
      cluster: () => cluster,
      state: () => (starting ? 'starting' : draining ? 'draining' : 'ready'),
    },
    logger,
  );
  core.setAdmissionGate(loadControl.gate);
  // Balancers read this node's load from the /ready body (src/balancer/node-load.ts); its utilization is the monitor's when it runs.
  const load = new LoadSampler(loadControl.monitor);
  const handlerDeps = {
    config,
    logger,
    // Degraded is still ready: local delivery works; the body says what is missing.
    health: () => {
      const overloaded = loadControl.overload();
      return {
        ready: !draining && !starting && overloaded === null,
        draining,
        detail: {
          ...(overloaded === null ? {} : { overloaded }),
          ...(starting ? { starting: true } : cluster !== null ? { degraded: cluster.degraded.degraded, cluster: cluster.linkState } : {}),
          load: load.report(core.connections.size, draining),
          ...(apps.catalog === null ? {} : { appStore: apps.catalog.status() }),
        },
      };
    },
    webhooks,
    connections: () => core.connections,
    monitor: loadControl.api(),
    transport: fanout,
    rateLimits: apps.rateLimits,
    // A change made here applies here at once and is announced to the other nodes.
    apps: apps.manager(async (appId, keys) => {
      cluster?.announceAppChange(appId, keys);
      await core.live.changed(appId, keys);
    }),
    cluster: () =>
      cluster?.describe() ?? {
        adapter: 'local',
        alone: true,
        leader: null,
        nodes: [{ self: true, address: `${config.host}:${port}`, load: { connections: core.connections.size } }],
      },
  };
  let httpHandler = createHttpHandler({ ...handlerDeps, core });
  // Created once the node has joined: the dashboard reads the cluster-wide API.
  let dashboard: Dashboard | null = null;
  const transport = new Transport(
    config,
    fanout,
    core,
    (req: IncomingMessage, res: ServerResponse) => {
      if (dashboard?.handle(req, res) !== true) httpHandler(req, res);
    },
    logger,
  );
  transport.stopAccepting();
  let port: number;
  try {
    port = await transport.listen();
  } catch (err) {
    load.stop();
    await loadControl.stop();
    await webhooks.stop();
    await history.stop();
    await apps.close();
    throw err;
  }
  // The node id defaults to host and port, so the cluster is joined once the port is known.
  const joined = await joinCluster(
    config,
    {
      apps: core.apps,
      reads: core.reads,
      connectionCount: () => core.connections.size,
      monitorLoad: () => loadControl.heartbeatLoad(),
      appChanged: (appId, keys) => void core.live.changed(appId, keys),
      api: core,
      host: config.host,
      port,
    },
    logger,
  );
  if (joined !== null) {
    cluster = joined.node;
    core.attachCluster(joined.node);
    httpHandler = createHttpHandler({ ...handlerDeps, core: joined.api });
  }
  const address = `${config.host}:${port}`;
  dashboard = createDashboard(
    config,
    {
      core: joined?.api ?? core,
      apps: () => core.apps.values(),
      cluster: () =>
        clusterView(cluster?.describe() ?? null, {
          id: config.nodeId ?? address,
          address,
          load: { ...loadControl.heartbeatLoad(), ...load.report(core.connections.size, draining) },
        }),
      alerts: () => loadControl.monitor?.alerts().active ?? [],
      scaling: () => loadControl.api()?.scaling() ?? null,
    },
    logger,
  );
  core.start();
  loadControl.start();
  starting = false;
  transport.startAccepting();
  logger.info({ host: config.host, port, tls: config.tlsCert !== undefined, apps: config.apps.length }, 'switchboard node listening');

  let stopping: Promise<void> | null = null;
  const stop = (options: { drainSeconds?: number } = {}): Promise<void> => {
    stopping ??= (async () => {
      draining = true;
      transport.stopAccepting();
      const drainSeconds = options.drainSeconds ?? config.drainSeconds;
      logger.info({ connections: core.connections.size, drainSeconds }, 'draining');
      await core.drain(drainSeconds);
      core.stop();
      load.stop();
      await loadControl.stop();
      dashboard?.stop();
      // After the drain: the members that left on the way out were announced already.
      await cluster?.stop(true);
      // After the drain too: the leaves of the drained clients are batched by then.
      await webhooks.stop();
      await history.stop();
      await transport.close();
      await apps.close();
      logger.info('stopped');
    })();
    return stopping;
  };
  return { port, core, cluster, webhooks, stop };
}

/** The fan-out settings of a node: compression is offered when the node or any app turns it on. */
function fanoutOptions(config: Config): FanoutOptions {
  return {
    maxSendBufferBytes: config.maxSendBufferBytes,
    writeCoalesceMs: config.writeCoalesceMs,
    writeCoalesceMinRate: config.writeCoalesceMinRate,
    compression: config.apps.some((app) => (app.compression ?? config.compression) === 'deflate'),
    compressionMinBytes: config.compressionMinBytes,
    compressionMaxBytesPerSecond: config.compressionMaxBytesPerSecond,
    compressionLevel: config.compressionLevel,
  };
}
