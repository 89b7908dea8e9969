import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SwitchboardBenchUsageError } from './errors.js';
import { runOptionsFromFlags, type RunFlags } from './options.js';
import type { BenchResults } from './results.js';
import { runBenchmark } from './run.js';
import type { ScenarioName } from './scenarios/types.js';
import { table } from './summary.js';
import { parseTargetSpec, startBuiltIn, type CompareTarget } from './targets.js';

export interface CompareFlags extends Omit<RunFlags, 'url' | 'driver' | 'serverPid' | 'httpUrl'> {
  target: string[];
  serverCpus: string;
  outDir?: string;
}

interface Column {
  name: string;
  better: 'higher' | 'lower';
  read(r: BenchResults): number | undefined;
}

// Under --find-max the delivery figures are those of the last good step, not of all steps mixed.
const basis = (r: BenchResults): BenchResults['totals'] => (r.findMax ? (r.phases.filter((p) => p.passed).at(-1) ?? r.totals) : r.totals);

const COLUMNS: Column[] = [
  { name: 'conn/s', better: 'higher', read: (r) => r.connections.connectsPerSec },
  { name: 'connect p99 ms', better: 'lower', read: (r) => r.connections.connectMs.p99 },
  { name: 'srv KiB/conn', better: 'lower', read: (r) => r.server.memoryPerConnectionKiB },
  { name: 'deliv/s', better: 'higher', read: (r) => (basis(r).expected > 0 ? basis(r).deliveriesPerSec : undefined) },
  { name: 'p50 ms', better: 'lower', read: (r) => (basis(r).latencyMs.count > 0 ? basis(r).latencyMs.p50 : undefined) },
  { name: 'p99 ms', better: 'lower', read: (r) => (basis(r).latencyMs.count > 0 ? basis(r).latencyMs.p99 : undefined) },
  { name: 'loss %', better: 'lower', read: (r) => (basis(r).expected > 0 ? basis(r).lossPct : undefined) },
  { name: 'gen CPU %', better: 'lower', read: (r) => (r.findMax ? basis(r).generatorCpuPct : r.generator.maxProcessCpuPct) },
  { name: 'srv CPU %', better: 'lower', read: (r) => r.server.cpuAvgPct },
  { name: 'find-max /s', better: 'higher', read: (r) => (r.findMax ? (r.findMax.lastGoodRate ?? 0) : undefined) },
];

const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(Math.abs(n) < 10 ? 2 : 1));

/** The comparison table: each figure, and its ratio to the first target's. */
function compareTable(runs: ReadonlyArray<{ name: string; results: BenchResults }>): string {
  const first = runs[0]?.results;
  const columns = COLUMNS.filter((c) => runs.some((r) => c.read(r.results) !== undefined));
  const rows = runs.map(({ name, results }) => [
    name,
    results.driver,
    ...columns.map((c) => {
      const value = c.read(results);
      if (value === undefined) return '-';
      const base = first !== undefined ? c.read(first) : undefined;
      const ratio = base !== undefined && base !== 0 && results !== first ? ` (×${(value / base).toFixed(2)})` : '';
      return `${fmt(value)}${ratio}`;
    }),
    results.generator.saturated ? 'gen ⚠' : results.passed ? 'pass' : 'FAIL',
  ]);
  return table(['target', 'driver', ...columns.map((c) => c.name), 'verdict'], rows);
}

/** Run one scenario against every target in turn; built-in targets are started (and stopped) here. */
export async function runCompare(
  scenario: ScenarioName,
  flags: CompareFlags,
  log: (line: string) => void,
): Promise<{ table: string; passed: boolean; runs: Array<{ name: string; results: BenchResults }> }> {
  if (flags.target.length === 0)
    throw new SwitchboardBenchUsageError('give at least one --target (e.g. --target switchboard --target socketio --target ws-raw)');
  const specs = flags.target.map(parseTargetSpec);
  const runs: Array<{ name: string; results: BenchResults }> = [];
  for (const spec of specs) {
    let target: CompareTarget;
    if ('builtIn' in spec) {
      log(`starting ${spec.builtIn}...`);
      target = await startBuiltIn(spec.builtIn, flags.serverCpus === '' ? undefined : flags.serverCpus);
    } else {
      target = { ...spec, stop: async () => undefined };
    }
    try {
      log(`running ${scenario} against ${target.name} (${target.driver} ${target.url})`);
      const runFlags: RunFlags = {
        ...flags,
        url: target.url,
        driver: target.driver,
        ...(target.pid !== undefined ? { serverPid: String(target.pid) } : {}),
        label: target.name,
        quiet: true,
      };
      const options = runOptionsFromFlags(scenario, runFlags, process.argv.slice());
      const results = await runBenchmark(options);
      runs.push({ name: target.name, results });
      if (flags.outDir !== undefined) {
        await mkdir(flags.outDir, { recursive: true });
        await writeFile(join(flags.outDir, `${scenario}-${target.name}.json`), `${JSON.stringify(results, null, 2)}\n`);
      }
    } finally {
      await target.stop();
    }
  }
  return { table: compareTable(runs), passed: runs.every((r) => r.results.passed), runs };
}
