#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { usesDevelopmentApp, DEVELOPMENT_APP_WARNING } from '../config/development-app.js';
import { ConfigError, formatConfigError } from '../config/errors.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../util/logger.js';
import { runConfigCheck, type ConfigCheckIo } from './config-check.js';
import { addConfigOptions } from './start-options.js';
import { registerWebhookCommands } from './webhooks.js';
import { registerAppsCommands } from './apps.js';
import { registerBenchCommands } from '../bench/cli.js';
import { followSupervisor } from '../supervisor/child.js';

/** Exit codes of the `switchboard` command. */
export const ExitCode = { Ok: 0, Failure: 1, Usage: 2 } as const;

/** Where the CLI writes and what environment it reads; tests inject their own. */
export type CliIo = ConfigCheckIo;

const processIo: CliIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  env: process.env,
};

/**
 * `switchboard start`: load the config, then start a node that runs until a signal.
 * Returns once the node listens; a bad config returns 2 before anything is started.
 */
async function runStart(flags: Record<string, unknown>, io: CliIo): Promise<number> {
  let config: Config;
  try {
    config = loadConfig({ argv: flags, env: io.env });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr(`${formatConfigError(err)}\n`);
    return ExitCode.Usage;
  }
  const logger = createLogger(config.logLevel);
  if (usesDevelopmentApp(config)) logger.warn(DEVELOPMENT_APP_WARNING);
  try {
    // `--workers N|auto`: this process becomes the primary of N node processes sharing the port.
    const { resolveWorkerCount, runPrimary } = await import('../cluster/workers.js');
    const { default: nodeCluster } = await import('node:cluster');
    const workers = resolveWorkerCount(config.workers);
    if (workers > 1 && nodeCluster.isPrimary) {
      return await runPrimary({ count: workers, relay: config.adapter === 'local', drainSeconds: config.drainSeconds, logger });
    }
    // Imported here so `config check` and `--help` never load the server.
    const { startNode } = await import('../node.js');
    const { exitOnSignals } = await import('../util/signals.js');
    const node = await startNode(config, logger);
    exitOnSignals(node, logger);
    // Under `switchboard cluster`: exit with the supervisor.
    followSupervisor(node, logger);
    return ExitCode.Ok;
  } catch (err) {
    logger.fatal({ err }, 'could not start the node');
    return ExitCode.Failure;
  }
}

/**
 * Run the `switchboard` command line with `args` (without node and script) and return the
 * exit code: 0 ok, 1 runtime failure, 2 usage or configuration error.
 */
export async function runCli(args: readonly string[], io: CliIo = processIo): Promise<number> {
  let exitCode: number = ExitCode.Ok;
  const program = new Command('switchboard')
    .description('A real-time messaging server that speaks the Pusher Channels protocol.')
    // Throw instead of exiting so usage errors map to exit code 2 and tests can run in-process.
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  // Subcommands created with .command() inherit exitOverride and the output configuration.
  const start = program.command('start').description('run a node (WebSocket and HTTP API on one port)');
  addConfigOptions(start).action(async (flags: Record<string, unknown>) => {
    exitCode = await runStart(flags, io);
  });

  const config = program.command('config').description('inspect the configuration');
  const check = config.command('check').description('print the effective configuration (secrets masked) or every invalid field');
  addConfigOptions(check).action((flags: Record<string, unknown>) => {
    exitCode = runConfigCheck(flags, io);
  });

  registerWebhookCommands(program, io, (code) => {
    exitCode = code;
  });

  registerAppsCommands(program, io, (code) => {
    exitCode = code;
  });

  // The balancer's modules (its option schema included) load only for `balance`, so `start` never loads them.
  const balance = program.command('balance').description('a load balancer in front of the nodes that knows the cluster and moves WebSockets');
  if (args[0] === 'balance') {
    const { addBalancerOptions, runBalance } = await import('./balance.js');
    addBalancerOptions(balance).action(async (flags: Record<string, unknown>) => {
      exitCode = await runBalance(flags, io);
    });
  }

  // The supervisor's modules load only for `cluster`.
  const cluster = program.command('cluster').description("a supervisor on this host: node processes behind a balancer, scaled by the leader's advice");
  if (args[0] === 'cluster') {
    const { addClusterOptions, runCluster } = await import('./cluster.js');
    addClusterOptions(cluster).action(async (flags: Record<string, unknown>) => {
      exitCode = await runCluster(flags, io);
    });
  }

  registerBenchCommands(program, (code) => {
    exitCode = code;
  });

  try {
    await program.parseAsync([...args], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    throw err;
  }
  return exitCode;
}

// True when this file is the process entry (also through npm's bin symlink), false when imported.
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // exitCode rather than exit(): a started node keeps the process alive until its signal handler exits.
  process.exitCode = await runCli(process.argv.slice(2));
}
