import { setTimeout as sleep } from 'node:timers/promises';

/** How often a spread takes its next batch. */
const STEP_MS = 100;

/**
 * Run `act` on every item, spread evenly over `seconds` in batches every
 * 100 ms (all at once for 0): how a graceful shutdown closes its clients, so
 * that they reconnect elsewhere gradually instead of in one storm (pusher-js
 * reconnects at once, without jitter). One rule for the node's drain and the
 * balancer's.
 */
export async function spreadOver<T>(items: readonly T[], seconds: number, act: (item: T) => void): Promise<void> {
  const steps = Math.max(1, Math.ceil((seconds * 1000) / STEP_MS));
  const perStep = Math.max(1, Math.ceil(items.length / steps));
  for (let i = 0; i < items.length; i += perStep) {
    for (const item of items.slice(i, i + perStep)) act(item);
    if (i + perStep < items.length) await sleep(STEP_MS);
  }
}
