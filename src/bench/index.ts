/** The bench's public surface: the CLI hook for `switchboard bench`, and the programmatic runner. */
export { registerBenchCommands, BenchExit, type SetExitCode } from './cli.js';
export { runBenchmark, type RunOptions, type ProgressUpdate } from './run.js';
export { renderReport } from './report.js';
export { diffAgainstBaseline, type FigureDiff } from './baseline.js';
export { parseThreshold, evaluateThresholds, type Threshold, type ThresholdResult } from './thresholds.js';
export type { LoadPattern } from './patterns.js';
export type { BenchResults, PhaseResult, TimelinePoint } from './results.js';
export type { ScenarioName, ScenarioSizes } from './scenarios/types.js';
export type { DriverName, TargetSpec } from './drivers/types.js';
