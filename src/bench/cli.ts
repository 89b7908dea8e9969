import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { runCompare, type CompareFlags } from './compare.js';
import { SwitchboardBenchConnectError, SwitchboardBenchUsageError } from './errors.js';
import { addRunFlags, runOptionsFromFlags, type RunFlags } from './options.js';
import { createProgressView } from './progress.js';
import { renderReport } from './report.js';
import { asResults, type BenchResults } from './results.js';
import { runBenchmark } from './run.js';
import { SCENARIO_NAMES, type ScenarioName } from './scenarios/types.js';
import { formatSummary } from './summary.js';

/** Exit codes of `switchboard bench`. */
export const BenchExit = { Pass: 0, ThresholdFailed: 1, UsageOrConnection: 2 } as const;

export type SetExitCode = (code: number) => void;

const SCENARIO_HELP: Record<ScenarioName, string> = {
  connections: 'open --connections clients at the pattern’s rate, hold them for --duration; connect time, errors, server memory per connection',
  fanout: '--subscribers on --channels; publish through the server API at the pattern’s rate; delivery latency, loss, order',
  chat: '--rooms of --room-size members who all send client events (the pattern is the total rate) and receive the others’',
  presence: '--members per presence channel watch clients join and leave at the pattern’s rate',
  churn: 'connect → subscribe → hold → disconnect cycles at the pattern’s rate',
  soak: 'fan-out plus steady churn for a long --duration, watching server memory growth and loss',
};

/** Map an error to its exit code and a one-line message for stderr. */
export function exitCodeOf(err: unknown): { code: number; message: string } {
  if (err instanceof SwitchboardBenchUsageError || err instanceof SwitchboardBenchConnectError) return { code: BenchExit.UsageOrConnection, message: err.message };
  return { code: BenchExit.UsageOrConnection, message: err instanceof Error ? err.message : String(err) };
}

async function writeJson(path: string, results: BenchResults): Promise<void> {
  await writeFile(path, `${JSON.stringify(results, null, 2)}\n`);
}

async function runScenario(scenario: ScenarioName, flags: RunFlags, setExitCode: SetExitCode): Promise<void> {
  const progress = createProgressView(process.stderr, flags.quiet === true);
  try {
    const options = runOptionsFromFlags(scenario, flags, process.argv.slice());
    const results = await runBenchmark({ ...options, onProgress: (u) => progress.update(u) });
    progress.stop();
    process.stdout.write(`${formatSummary(results)}\n`);
    if (flags.out !== undefined) {
      await writeJson(flags.out, results);
      process.stdout.write(`results written to ${flags.out}\n`);
    }
    setExitCode(results.passed ? BenchExit.Pass : BenchExit.ThresholdFailed);
  } catch (err) {
    progress.stop();
    const { code, message } = exitCodeOf(err);
    process.stderr.write(`switchboard bench: ${message}\n`);
    setExitCode(code);
  }
}

async function loadResults(path: string): Promise<BenchResults> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SwitchboardBenchUsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return asResults(JSON.parse(text), path);
  } catch (err) {
    throw new SwitchboardBenchUsageError((err as Error).message);
  }
}

/**
 * Add `bench <scenario>`, `bench report` and `bench compare` to a commander program.
 * Exit codes go through `setExitCode` (default: `process.exitCode`): 0 pass, 1 a threshold failed,
 * 2 usage or connection error.
 */
export function registerBenchCommands(program: Command, setExitCode: SetExitCode = (code) => void (process.exitCode = code)): void {
  const bench = program.command('bench').description('load-test a Pusher-protocol server (or a Socket.IO / raw ws reference) and report capacity');
  for (const scenario of SCENARIO_NAMES) {
    addRunFlags(bench.command(scenario).description(SCENARIO_HELP[scenario])).action(async (flags: RunFlags) => runScenario(scenario, flags, setExitCode));
  }

  bench
    .command('report')
    .description('write a self-contained HTML report of a results file, with regressions against a baseline')
    .argument('<results>', 'results JSON of a run')
    .option('--baseline <file>', 'results JSON to compare against')
    .option('--tolerance <pct>', 'change beyond which a figure is a regression', '10')
    .option('--out <file>', 'HTML file to write (default: <results>.html)')
    .action(async (resultsPath: string, flags: { baseline?: string; tolerance: string; out?: string }) => {
      try {
        const results = await loadResults(resultsPath);
        const baseline = flags.baseline !== undefined ? await loadResults(flags.baseline) : undefined;
        const tolerance = Number(flags.tolerance);
        if (!Number.isFinite(tolerance) || tolerance < 0) throw new SwitchboardBenchUsageError('--tolerance must be a non-negative percentage');
        const { html, regressions } = await renderReport(results, baseline, tolerance);
        const out = flags.out ?? resultsPath.replace(/\.json$/, '') + '.html';
        await writeFile(out, html);
        process.stdout.write(`report written to ${out}${baseline ? `; ${regressions} regression(s) beyond ${tolerance}%` : ''}\n`);
        setExitCode(regressions > 0 ? BenchExit.ThresholdFailed : BenchExit.Pass);
      } catch (err) {
        const { code, message } = exitCodeOf(err);
        process.stderr.write(`switchboard bench report: ${message}\n`);
        setExitCode(code);
      }
    });

  const compare = bench
    .command('compare')
    .description('run one scenario against several targets in turn and print the ratios in one table')
    .argument('<scenario>', SCENARIO_NAMES.join('|'))
    .option('--target <spec>', 'name=driver:ws-url[@pid], or a built-in to start: switchboard, socketio, ws-raw (repeatable)', (v: string, p: string[]) => [...p, v], [])
    .option('--server-cpus <list>', 'pin started targets with taskset', '0')
    .option('--out-dir <dir>', 'write each target’s results JSON here');
  addRunFlags(compare, false).action(async (scenario: string, flags: CompareFlags) => {
    try {
      if (!(SCENARIO_NAMES as readonly string[]).includes(scenario)) throw new SwitchboardBenchUsageError(`unknown scenario ${scenario}; one of ${SCENARIO_NAMES.join(', ')}`);
      const { table, passed } = await runCompare(scenario as ScenarioName, flags, (line) => process.stderr.write(`${line}\n`));
      process.stdout.write(`${table}\n`);
      setExitCode(passed ? BenchExit.Pass : BenchExit.ThresholdFailed);
    } catch (err) {
      const { code, message } = exitCodeOf(err);
      process.stderr.write(`switchboard bench compare: ${message}\n`);
      setExitCode(code);
    }
  });
}
