/**
 * Microseconds on CLOCK_MONOTONIC. `process.hrtime` reads the same clock in every process on
 * the machine, so a worker can subtract a publisher's scheduled time from its own receive time.
 */
export function nowMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Resolve after `ms` (timers are unref'd nowhere here: a pending wait keeps the run alive on purpose). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
