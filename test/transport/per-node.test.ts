import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../../src/node.js';
import { classifyChannel } from '../../src/protocol/channels.js';
import { RawClient, startTestNode } from '../helpers/node.js';

/**
 * Each node owns its fan-out: two nodes in one process with different
 * writeCoalesceMs keep their own, even when both queue frames in the same
 * event-loop turn (with one module-level queue, the first frame of a turn
 * decided the wait for every node's frames).
 */
describe('two nodes in one process keep their own write coalescing', () => {
  let prompt: RunningNode;
  let patient: RunningNode;
  let atPrompt: RawClient;
  let atPatient: RawClient;
  beforeAll(async () => {
    // writeCoalesceMinRate 0: the wait applies at any load.
    prompt = await startTestNode({ writeCoalesceMs: 0, writeCoalesceMinRate: 0 });
    patient = await startTestNode({ writeCoalesceMs: 80, writeCoalesceMinRate: 0 });
    atPrompt = await RawClient.connect(prompt);
    atPatient = await RawClient.connect(patient);
    for (const c of [atPrompt, atPatient]) {
      c.send({ event: 'pusher:subscribe', data: { channel: 'ticks' } });
      await c.event('pusher_internal:subscription_succeeded');
    }
  });
  afterAll(async () => {
    atPrompt.close();
    atPatient.close();
    await prompt.stop({ drainSeconds: 0 });
    await patient.stop({ drainSeconds: 0 });
  });

  /** Publish on both nodes in one turn, `first` first; how long each client waited for its event. */
  async function publishBoth(first: 'prompt' | 'patient', n: number): Promise<{ prompt: number; patient: number }> {
    const publish = (node: RunningNode): void => {
      const app = node.core.apps.get('app-id')!;
      node.core.publish({ app, channels: [{ name: 'ticks', kind: classifyChannel('ticks')! }], event: 'tick', data: String(n) });
    };
    const started = performance.now();
    const waited = (c: RawClient) => c.next((m) => m.event === 'tick' && m.data === String(n), 3000).then(() => performance.now() - started);
    const waits = Promise.all([waited(atPrompt), waited(atPatient)]);
    if (first === 'prompt') {
      publish(prompt);
      publish(patient);
    } else {
      publish(patient);
      publish(prompt);
    }
    const [p, q] = await waits;
    return { prompt: p, patient: q };
  }

  it('a frame on the 0 ms node leaves at the end of its turn though the 80 ms node queued first', async () => {
    const waits = await publishBoth('patient', 1);
    expect(waits.prompt).toBeLessThan(50);
    expect(waits.patient).toBeGreaterThanOrEqual(75);
  });

  it('a frame on the 80 ms node waits its 80 ms though the 0 ms node queued first', async () => {
    const waits = await publishBoth('prompt', 2);
    expect(waits.prompt).toBeLessThan(50);
    expect(waits.patient).toBeGreaterThanOrEqual(75);
  });
});
