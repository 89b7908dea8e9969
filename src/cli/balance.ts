import { Option, type Command } from 'commander';
import { ConfigError, formatConfigError } from '../config/errors.js';
import { balancerOptions, loadBalancerConfig, type BalancerConfig } from '../balancer/config.js';
import { createLogger } from '../util/logger.js';
import { optionHelp, valuePlaceholder } from './start-options.js';

export interface BalanceIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: NodeJS.ProcessEnv;
}

/** Register one flag per balancer option (derived from its schema), `--backend` repeatable. */
export function addBalancerOptions(command: Command): Command {
  command.addOption(new Option('--config <file>', "JSON or YAML file of balancer options (the flags' names in camelCase)"));
  for (const option of balancerOptions) {
    if (option.key === 'backend') {
      command.addOption(
        new Option('--backend <host:port[=weight]>', optionHelp(option)).argParser((value: string, previous: string[] | undefined) => [
          ...(previous ?? []),
          value,
        ]),
      );
      continue;
    }
    command.addOption(new Option(`--${option.flag} ${valuePlaceholder(option)}`, optionHelp(option)));
  }
  command.addOption(new Option('--print-haproxy', 'print an equivalent haproxy.cfg and exit'));
  return command;
}

/** `switchboard balance`: returns once the balancer listens (or the primary runs its workers). */
export async function runBalance(flags: Record<string, unknown>, io: BalanceIo): Promise<number> {
  const { printHaproxy, ...options } = flags;
  let config: BalancerConfig;
  try {
    config = loadBalancerConfig(options, io.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr(`${formatConfigError(err)}\n`);
    return 2;
  }
  if (printHaproxy === true) {
    const { renderHaproxyConfig } = await import('../balancer/haproxy.js');
    io.stdout(renderHaproxyConfig(config));
    return 0;
  }
  const logger = createLogger(config.logLevel);
  const { default: nodeCluster } = await import('node:cluster');
  const { resolveWorkerCount, runPrimary } = await import('../cluster/workers.js');
  const workers = resolveWorkerCount(config.workers);
  if (workers > 1 && nodeCluster.isPrimary) {
    // The nodes' primary serves here too: forks, restarts crashed workers, forwards SIGTERM. No relay: balancers share nothing.
    return runPrimary({ count: workers, relay: false, drainSeconds: config.drainSeconds, logger });
  }
  const { Balancer } = await import('../balancer/balancer.js');
  let balancer: InstanceType<typeof Balancer>;
  try {
    balancer = new Balancer(config, logger);
    await balancer.start();
  } catch (err) {
    logger.fatal({ err }, 'could not start the balancer');
    return 1;
  }
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) process.exit(1);
    logger.info({ signal }, 'balancer stopping');
    balancer.stop({ drainSeconds: config.drainSeconds }).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return 0;
}
