import { nowMicros } from './clock.js';
import { scheduleOffsets, type LoadPattern } from './patterns.js';

export interface ScheduleRun {
  /** Resolves when every operation of the schedule has been started (or the run was stopped). */
  done: Promise<{ started: number; maxLagMs: number }>;
  stop(): void;
}

// Timers fire late by a millisecond or more; operations due within this window go out together.
const EARLY_US = 200;

/**
 * Start `operation(scheduledMicros, index)` at every scheduled time of `pattern` from `startMicros`.
 * Operations are never delayed by earlier ones (they are started, not awaited), so the scheduled
 * time stays the honest reference for latency even when the target stalls.
 */
export function runSchedule(
  pattern: LoadPattern,
  durationMs: number,
  startMicros: number,
  operation: (scheduledMicros: number, index: number) => void,
  limit = Number.POSITIVE_INFINITY,
): ScheduleRun {
  const offsets = scheduleOffsets(pattern, durationMs);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let started = 0;
  let maxLagMs = 0;
  let pending = offsets.next();
  let finish: (value: { started: number; maxLagMs: number }) => void = () => undefined;
  const done = new Promise<{ started: number; maxLagMs: number }>((resolve) => {
    finish = resolve;
  });

  const pump = (): void => {
    timer = undefined;
    const now = nowMicros();
    while (!stopped && !pending.done && started < limit) {
      const due = startMicros + Math.round(pending.value * 1000);
      if (due > now + EARLY_US) {
        timer = setTimeout(pump, Math.max(0, (due - now) / 1000 - 0.5));
        return;
      }
      maxLagMs = Math.max(maxLagMs, (now - due) / 1000);
      operation(due, started);
      started++;
      pending = offsets.next();
    }
    finish({ started, maxLagMs });
  };
  timer = setTimeout(pump, Math.max(0, (startMicros - nowMicros()) / 1000));

  return {
    done,
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      finish({ started, maxLagMs });
    },
  };
}
