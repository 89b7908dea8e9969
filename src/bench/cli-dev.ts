#!/usr/bin/env node
/**
 * Development entry for the bench before it is wired into `switchboard`:
 * `node dist/bench/cli-dev.js fanout --url ws://127.0.0.1:6001 ...` is `switchboard bench fanout ...`.
 */
import { Command, CommanderError } from 'commander';
import { registerBenchCommands } from './cli.js';

const program = new Command('switchboard').exitOverride();
let exitCode = 0;
registerBenchCommands(program, (code) => {
  exitCode = code;
});
try {
  await program.parseAsync(['bench', ...process.argv.slice(2)], { from: 'user' });
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  exitCode = err.exitCode === 0 ? 0 : 2;
}
process.exitCode = exitCode;
