import { readFile, writeFile } from 'node:fs/promises';
import { runCompare, type CompareFlags } from './compare.js';
import { SwitchboardBenchUsageError } from './errors.js';
import { BenchExit, exitCodeOf, type SetExitCode } from './exit.js';
import { runOptionsFromFlags, type RunFlags } from './options.js';
import { createProgressView } from './progress.js';
import { renderReport } from './report.js';
import { asResults, type BenchResults } from './results.js';
import { runBenchmark } from './run.js';
import { SCENARIO_NAMES, type ScenarioName } from './scenarios/types.js';
import { formatSummary } from './summary.js';

// What the `bench` commands do once they run. Loaded by cli.ts only then, so `switchboard start`,
// `--help` and `config check` never load the generator, its drivers or the report.

async function writeJson(path: string, results: BenchResults): Promise<void> {
  await writeFile(path, `${JSON.stringify(results, null, 2)}\n`);
}

/** `switchboard bench <scenario>`. */
export async function runScenario(scenario: ScenarioName, flags: RunFlags, setExitCode: SetExitCode): Promise<void> {
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

export interface ReportFlags {
  baseline?: string;
  tolerance: string;
  out?: string;
}

/** `switchboard bench report <results>`. */
export async function runReport(resultsPath: string, flags: ReportFlags, setExitCode: SetExitCode): Promise<void> {
  try {
    const results = await loadResults(resultsPath);
    const baseline = flags.baseline !== undefined ? await loadResults(flags.baseline) : undefined;
    const tolerance = Number(flags.tolerance);
    if (!Number.isFinite(tolerance) || tolerance < 0) throw new SwitchboardBenchUsageError('--tolerance must be a non-negative percentage');
    const { html, regressions } = await renderReport(results, baseline, tolerance);
    const out = flags.out ?? `${resultsPath.replace(/\.json$/, '')}.html`;
    await writeFile(out, html);
    process.stdout.write(`report written to ${out}${baseline ? `; ${regressions} regression(s) beyond ${tolerance}%` : ''}\n`);
    setExitCode(regressions > 0 ? BenchExit.ThresholdFailed : BenchExit.Pass);
  } catch (err) {
    const { code, message } = exitCodeOf(err);
    process.stderr.write(`switchboard bench report: ${message}\n`);
    setExitCode(code);
  }
}

/** `switchboard bench compare <scenario>`. */
export async function runCompareCommand(scenario: string, flags: CompareFlags, setExitCode: SetExitCode): Promise<void> {
  try {
    if (!(SCENARIO_NAMES as readonly string[]).includes(scenario))
      throw new SwitchboardBenchUsageError(`unknown scenario ${scenario}; one of ${SCENARIO_NAMES.join(', ')}`);
    const { table, passed } = await runCompare(scenario as ScenarioName, flags, (line) => process.stderr.write(`${line}\n`));
    process.stdout.write(`${table}\n`);
    setExitCode(passed ? BenchExit.Pass : BenchExit.ThresholdFailed);
  } catch (err) {
    const { code, message } = exitCodeOf(err);
    process.stderr.write(`switchboard bench compare: ${message}\n`);
    setExitCode(code);
  }
}
