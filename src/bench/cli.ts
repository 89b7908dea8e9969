import type { Command } from 'commander';
import type { CompareFlags } from './compare.js';
import type { SetExitCode } from './exit.js';
import { addRunFlags, type RunFlags } from './options.js';
import { SCENARIO_NAMES, type ScenarioName } from './scenarios/types.js';

export type { SetExitCode } from './exit.js';

// Only the commands and their flags are defined here, so `--help` works everywhere. Each action
// imports actions.ts when it runs: the generator, its drivers (socket.io-client among them) and the
// report stay unloaded for `switchboard start`.
const actions = (): Promise<typeof import('./actions.js')> => import('./actions.js');

const SCENARIO_HELP: Record<ScenarioName, string> = {
  connections: 'open --connections clients at the pattern’s rate, hold them for --duration; connect time, errors, server memory per connection',
  fanout: '--subscribers on --channels; publish through the server API at the pattern’s rate; delivery latency, loss, order',
  chat: '--rooms of --room-size members who all send client events (the pattern is the total rate) and receive the others’',
  presence: '--members per presence channel watch clients join and leave at the pattern’s rate',
  churn: 'connect → subscribe → hold → disconnect cycles at the pattern’s rate',
  soak: 'fan-out plus steady churn for a long --duration, watching server memory growth and loss',
};

/**
 * Add `bench <scenario>`, `bench report` and `bench compare` to a commander program.
 * Exit codes go through `setExitCode` (default: `process.exitCode`): 0 pass, 1 a threshold failed,
 * 2 usage or connection error.
 */
export function registerBenchCommands(program: Command, setExitCode: SetExitCode = (code) => void (process.exitCode = code)): void {
  const bench = program.command('bench').description('load-test a Pusher-protocol server (or a Socket.IO / raw ws reference) and report capacity');
  for (const scenario of SCENARIO_NAMES) {
    addRunFlags(bench.command(scenario).description(SCENARIO_HELP[scenario])).action(async (flags: RunFlags) =>
      (await actions()).runScenario(scenario, flags, setExitCode),
    );
  }

  bench
    .command('report')
    .description('write a self-contained HTML report of a results file, with regressions against a baseline')
    .argument('<results>', 'results JSON of a run')
    .option('--baseline <file>', 'results JSON to compare against')
    .option('--tolerance <pct>', 'change beyond which a figure is a regression', '10')
    .option('--out <file>', 'HTML file to write (default: <results>.html)')
    .action(async (resultsPath: string, flags: { baseline?: string; tolerance: string; out?: string }) =>
      (await actions()).runReport(resultsPath, flags, setExitCode),
    );

  const compare = bench
    .command('compare')
    .description('run one scenario against several targets in turn and print the ratios in one table')
    .argument('<scenario>', SCENARIO_NAMES.join('|'))
    .option(
      '--target <spec>',
      'name=driver:ws-url[@pid], or a built-in to start: switchboard, socketio, ws-raw (repeatable)',
      (v: string, p: string[]) => [...p, v],
      [],
    )
    .option('--server-cpus <list>', 'pin started targets with taskset', '0')
    .option('--out-dir <dir>', 'write each target’s results JSON here');
  addRunFlags(compare, false).action(async (scenario: string, flags: CompareFlags) => (await actions()).runCompareCommand(scenario, flags, setExitCode));
}
