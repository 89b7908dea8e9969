import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { IpcHub } from '../adapters/ipc.js';
import type { Logger } from '../util/logger.js';

/** Env var a worker reads its slot from (not SWITCHBOARD_*: it is not a config option). */
const WORKER_SLOT_ENV = 'SB_WORKER_SLOT';

/** `--workers`: a number, or `auto` for one per core. */
export function resolveWorkerCount(value: string | number): number {
  if (value === 'auto') return Math.max(1, availableParallelism());
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

/** This process's worker slot (0-based), or null outside a worker. */
export function workerSlot(): number | null {
  if (!cluster.isWorker) return null;
  const slot = Number(process.env[WORKER_SLOT_ENV]);
  return Number.isInteger(slot) && slot >= 0 ? slot : null;
}

export interface PrimaryOptions {
  count: number;
  /** Relay cluster traffic between workers through this process (local adapter). */
  relay: boolean;
  /** Seconds the workers get to drain on SIGTERM before they are killed. */
  drainSeconds: number;
  logger: Logger;
}

/** Crash-loop guard: a slot that keeps dying waits longer, up to this. */
const MAX_RESTART_DELAY_MS = 5000;

/**
 * The node:cluster primary: forks `count` workers that share the listening
 * port, restarts a worker that dies unasked (same slot, so it keeps its
 * node id and its old state is cleared by its peers), relays IPC cluster
 * traffic when asked, and turns SIGTERM/SIGINT into a graceful drain of
 * every worker. Resolves when the primary should exit, with its exit code.
 */
export function runPrimary(options: PrimaryOptions): Promise<number> {
  const { count, logger } = options;
  const hub = options.relay ? new IpcHub() : null;
  const slots = new Map<Worker, number>();
  const restarts = new Map<number, { count: number; lastAt: number }>();
  let stopping = false;

  const fork = (slot: number): void => {
    const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot) });
    slots.set(worker, slot);
    hub?.attach(worker);
  };

  return new Promise((resolve) => {
    cluster.on('exit', (worker, code, signal) => {
      const slot = slots.get(worker);
      slots.delete(worker);
      if (slot === undefined) return;
      if (stopping) {
        if (slots.size === 0) resolve(0);
        return;
      }
      const history = restarts.get(slot) ?? { count: 0, lastAt: 0 };
      // A worker that lived a while starts over at a short delay.
      if (Date.now() - history.lastAt > 30_000) history.count = 0;
      history.count++;
      history.lastAt = Date.now();
      restarts.set(slot, history);
      const delay = Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** (history.count - 1));
      logger.warn({ slot, pid: worker.process.pid, code, signal, restartInMs: delay }, 'worker exited unexpectedly; restarting it');
      setTimeout(() => {
        if (!stopping) fork(slot);
      }, delay);
    });

    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: killing workers now');
        for (const worker of slots.keys()) worker.process.kill('SIGKILL');
        resolve(1);
        return;
      }
      stopping = true;
      logger.info({ signal, workers: slots.size }, 'draining workers');
      if (slots.size === 0) resolve(0);
      for (const worker of slots.keys()) worker.process.kill('SIGTERM');
      const deadline = setTimeout(
        () => {
          for (const worker of slots.keys()) worker.process.kill('SIGKILL');
          resolve(1);
        },
        (options.drainSeconds + 10) * 1000,
      );
      deadline.unref();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);

    logger.info({ workers: count, relay: options.relay }, 'starting workers');
    for (let slot = 0; slot < count; slot++) fork(slot);
  });
}
