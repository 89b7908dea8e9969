import { describe, expect, it } from 'vitest';
import { ResourceSampler, type SampleSources } from '../../src/monitor/sampler.js';
import { blockFor } from '../helpers/busy-loop.js';

const sources: SampleSources = {
  connections: () => 0,
  connectionLimit: 0,
  counts: async () => ({ messagesIn: 0, messagesOut: 0, slowConsumersClosed: 0 }),
  sendBufferBytes: () => 0,
  broker: () => null,
  memoryLimitBytes: null,
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('resource sampler: event-loop delay', () => {
  // The case the monitor used to miss: with a histogram reset per sample, a block that started
  // before the histogram's timer ran again was never recorded (it read ~1 ms).
  it('a block that starts right after a sample is in the next sample, and only in that one', async () => {
    const sampler = new ResourceSampler(sources);
    try {
      await sleep(100);
      await sampler.sample();
      blockFor(150); // before any timer can run
      await sleep(100);
      const blocked = await sampler.sample();
      expect(blocked.loopDelayP99Ms).toBeGreaterThan(100);
      await sleep(200);
      expect((await sampler.sample()).loopDelayP99Ms).toBeLessThan(100);
    } finally {
      sampler.stop();
    }
  });

  it("on the admission test's rhythm (150 ms blocked right after each 200 ms sample), every sample sees its block", async () => {
    const sampler = new ResourceSampler(sources);
    try {
      await sleep(50);
      const seen: number[] = [];
      // Sampling and blocking on the same 200 ms rhythm (the admission test's), the block just after each sample.
      for (let i = 0; i < 5; i++) {
        seen.push((await sampler.sample()).loopDelayP99Ms);
        blockFor(150);
        await sleep(50);
      }
      seen.push((await sampler.sample()).loopDelayP99Ms);
      // Every sample after the first covers one block.
      expect(seen.slice(1).every((p99) => p99 > 100)).toBe(true);
    } finally {
      sampler.stop();
    }
  });
});
