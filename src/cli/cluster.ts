import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import { loadBalancerConfig, type BalancerConfig } from '../balancer/config.js';
import { usesDevelopmentApp, DEVELOPMENT_APP_WARNING } from '../config/development-app.js';
import { ConfigError, formatConfigError } from '../config/errors.js';
import { loadConfig } from '../config/load.js';
import { toFlagName } from '../config/options.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../util/logger.js';
import { exitOnSignals } from '../util/signals.js';
import { addConfigOptions } from './start-options.js';

export interface ClusterIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: NodeJS.ProcessEnv;
}

/** The node options `switchboard cluster` sets per node itself. */
const PER_NODE = new Set(['port', 'host']);

/** `switchboard cluster`: every node option (passed on to the nodes), and `--min`/`--max` for scalingMinNodes/scalingMaxNodes. */
export function addClusterOptions(command: Command): Command {
  command.addOption(new Option('--min <number>', 'fewest nodes: the same as --scaling-min-nodes, which the advice uses too'));
  command.addOption(new Option('--max <number>', 'most nodes: the same as --scaling-max-nodes, which the advice uses too'));
  return addConfigOptions(command);
}

/** Commander's flag values back to `switchboard start` arguments (values are still text, as typed). */
export function nodeArguments(flags: Record<string, unknown>): string[] {
  const args: string[] = [];
  for (const [key, value] of Object.entries(flags)) {
    if (value === undefined || PER_NODE.has(key)) continue;
    if (value === true) args.push(`--${toFlagName(key)}`);
    else args.push(`--${toFlagName(key)}`, String(value));
  }
  return args;
}

type Prepared = { config: Config; flags: Record<string, unknown>; balancer: BalancerConfig; nodeEnv: NodeJS.ProcessEnv };

/** SWITCHBOARD_BALANCER_* is the balancer's (its own schema); the nodes' loader would reject it as unknown. */
function withoutBalancerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('SWITCHBOARD_BALANCER_')));
}

/** Load and check both configs before any process starts; a ConfigError lists every problem. */
function prepare(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Prepared {
  const { min, max, ...flags } = raw;
  const nodeEnv = withoutBalancerEnv(env);
  const issues: Array<{ path: string; message: string }> = [];
  if (min !== undefined) {
    if (flags.scalingMinNodes !== undefined) issues.push({ path: '--min', message: 'give --min or --scaling-min-nodes, not both' });
    flags.scalingMinNodes = min;
  }
  if (max !== undefined) {
    if (flags.scalingMaxNodes !== undefined) issues.push({ path: '--max', message: 'give --max or --scaling-max-nodes, not both' });
    flags.scalingMaxNodes = max;
  }
  if (issues.length > 0) throw new ConfigError(issues);
  let config = loadConfig({ argv: flags, env: nodeEnv });
  // "With --redis-url the nodes use Redis": a Redis URL without an adapter choice means the redis adapter.
  if (config.adapter === 'local' && config.redisUrl !== undefined && flags.adapter === undefined && env.SWITCHBOARD_ADAPTER === undefined) {
    flags.adapter = 'redis';
    config = loadConfig({ argv: flags, env: nodeEnv });
  }
  if (config.workers !== '1') throw new ConfigError([{ path: 'workers', message: 'switchboard cluster runs one process per node: leave workers at 1' }]);
  if (config.adapter === 'local' && config.apps.some((app) => app.history.length > 0) && config.historyRedisUrl === undefined) {
    throw new ConfigError([{ path: 'historyRedisUrl', message: 'history in a cluster needs one shared store: set historyRedisUrl (a redis:// URL)' }]);
  }
  // Checked now with a stand-in backend; the supervisor puts its nodes there.
  const balancer = loadBalancerConfig(
    {
      ...(config.supervisorBalancerConfig === undefined ? {} : { config: config.supervisorBalancerConfig }),
      host: config.host,
      listen: String(config.port),
      backend: ['127.0.0.1:1'],
      discover: 'static',
      logLevel: config.logLevel,
      ...(config.adminToken === undefined ? {} : { adminToken: config.adminToken }),
    },
    env,
  );
  if (balancer.workers !== '1')
    throw new ConfigError([{ path: 'SWITCHBOARD_BALANCER_WORKERS', message: "the supervisor's balancer runs in its own process: leave it at 1" }]);
  return { config, flags, balancer, nodeEnv };
}

/** `switchboard cluster`: returns once the balancer listens; signals drain the nodes and exit. */
export async function runCluster(raw: Record<string, unknown>, io: ClusterIo): Promise<number> {
  let prepared: Prepared;
  try {
    prepared = prepare(raw, io.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr(`${formatConfigError(err)}\n`);
    return 2;
  }
  const { config, flags, balancer, nodeEnv } = prepared;
  const logger = createLogger(config.logLevel).child({ component: 'supervisor' });
  if (usesDevelopmentApp(config)) logger.warn(DEVELOPMENT_APP_WARNING);
  const { Supervisor } = await import('../supervisor/supervisor.js');
  const supervisor = new Supervisor(
    {
      cli: fileURLToPath(new URL('./main.js', import.meta.url)),
      nodeArgs: nodeArguments(flags),
      env: nodeEnv,
      relay: config.adapter === 'local',
      balancer,
      nodeHost: config.supervisorNodeHost,
      nodePortBase: config.supervisorNodePortBase,
      readyTimeoutMs: config.supervisorReadyTimeout * 1000,
      restartMaxDelayMs: config.supervisorRestartMaxDelay * 1000,
      drainSeconds: config.drainSeconds,
      scaling: {
        intervalMs: config.supervisorInterval * 1000,
        minNodes: config.scalingMinNodes,
        maxNodes: config.scalingMaxNodes,
        upCooldownMs: config.supervisorScaleUpCooldown * 1000,
        downCooldownMs: config.supervisorScaleDownCooldown * 1000,
      },
    },
    logger,
  );
  // A second signal kills the nodes rather than leave them draining without us.
  exitOnSignals(supervisor, logger, () => supervisor.kill());
  try {
    const port = await supervisor.start();
    logger.info({ host: config.host, port, adapter: config.adapter }, 'switchboard cluster listening');
    return 0;
  } catch (err) {
    logger.fatal({ err }, 'could not start the cluster');
    return 1;
  }
}
