import { afterEach, describe, expect, it } from 'vitest';
import { metrics } from '../../src/metrics/index.js';
import type { RunningNode } from '../../src/node.js';
import { RawClient, serverSdk, startTestNode } from '../helpers/node.js';

async function counter(metric: { get(): Promise<{ values: Array<{ value: number }> }> }): Promise<number> {
  return (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);
}

// Frames bound to one socket within the coalescing window leave in one write.
describe('write coalescing', () => {
  let node: RunningNode | undefined;
  afterEach(async () => node?.stop({ drainSeconds: 0 }));

  it.each([
    // Off: one write per event-loop turn.
    { writeCoalesceMs: 0, writeCoalesceMinRate: 0, expectFewerWritesThanEvents: false },
    // On whatever the load: frames wait for each other.
    { writeCoalesceMs: 40, writeCoalesceMinRate: 0, expectFewerWritesThanEvents: true },
    // The default, adaptive: at this light load nothing waits.
    { writeCoalesceMs: 40, writeCoalesceMinRate: 60_000, expectFewerWritesThanEvents: false },
  ])(
    'with writeCoalesceMs=$writeCoalesceMs above $writeCoalesceMinRate/s, every event arrives in order',
    async ({ writeCoalesceMs, writeCoalesceMinRate, expectFewerWritesThanEvents }) => {
      node = await startTestNode({ writeCoalesceMs, writeCoalesceMinRate });
      const client = await RawClient.connect(node);
      client.send({ event: 'pusher:subscribe', data: { channel: 'coalesce' } });
      await client.event('pusher_internal:subscription_succeeded');
      const sdk = serverSdk(node);
      const writesBefore = await counter(metrics.socketWrites);
      // Sequential publishes: each is its own HTTP request, so its own event-loop turn.
      for (let i = 0; i < 8; i++) await sdk.trigger('coalesce', 'n', String(i));
      await client.next((m) => m.event === 'n' && m.data === '7');
      const writes = (await counter(metrics.socketWrites)) - writesBefore;
      expect(client.messages.filter((m) => m.event === 'n').map((m) => m.data)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
      if (expectFewerWritesThanEvents) expect(writes).toBeLessThan(8);
      else expect(writes).toBe(8);
      client.close();
    },
  );
});
