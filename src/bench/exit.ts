import { SwitchboardBenchConnectError, SwitchboardBenchUsageError } from './errors.js';

/** Exit codes of `switchboard bench`. */
export const BenchExit = { Pass: 0, ThresholdFailed: 1, UsageOrConnection: 2 } as const;

export type SetExitCode = (code: number) => void;

/** Map an error to its exit code and a one-line message for stderr. */
export function exitCodeOf(err: unknown): { code: number; message: string } {
  if (err instanceof SwitchboardBenchUsageError || err instanceof SwitchboardBenchConnectError)
    return { code: BenchExit.UsageOrConnection, message: err.message };
  return { code: BenchExit.UsageOrConnection, message: err instanceof Error ? err.message : String(err) };
}
