import { createHttpHandler } from './api/router.js';
import type { Config } from './config/schema.js';
import { NodeCore } from './core/node-core.js';
import { Transport } from './transport/server.js';
import { createLogger, type Logger } from './util/logger.js';

/** A running Switchboard node. */
export interface RunningNode {
  readonly port: number;
  readonly core: NodeCore;
  /** Graceful: refuse new connections, ask clients to reconnect elsewhere (4200) over `drainSeconds`, then close. */
  stop(options?: { drainSeconds?: number }): Promise<void>;
}

/** Start a node: one port for WebSocket and HTTP. */
export async function startNode(config: Config, logger: Logger = createLogger(config.logLevel)): Promise<RunningNode> {
  const core = new NodeCore(config, logger);
  let draining = false;
  const httpHandler = createHttpHandler({
    core,
    config,
    logger,
    health: () => ({ ready: !draining, draining }),
  });
  const transport = new Transport(config, core.admit, httpHandler, logger);
  const port = await transport.listen();
  core.start();
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
      await transport.close();
      logger.info('stopped');
    })();
    return stopping;
  };
  return { port, core, stop };
}

/**
 * SIGTERM/SIGINT drain the node and exit 0; a second signal exits at once.
 */
export function exitOnSignals(node: RunningNode, logger: Logger): void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    received++;
    if (received > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'shutting down gracefully');
    node.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
