import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_BATCH_UNITS } from '../../../src/adapters/batch.js';
import { BrokerLink, type BrokerLinkOptions, type BrokerSession, type SessionSink } from '../../../src/adapters/link.js';

/** A link whose broker records every publishBatch call and echoes messages back to the link. */
class RecordingLink extends BrokerLink {
  readonly kind = 'local' as const;
  readonly calls: Array<Array<readonly [string, string]>> = [];
  sink: SessionSink | null = null;

  constructor(options: Partial<BrokerLinkOptions> = {}) {
    super({ prefix: '', ...options });
  }

  protected async openSession(sink: SessionSink): Promise<BrokerSession> {
    this.sink = sink;
    return {
      publishBatch: (batch) => {
        this.calls.push([...batch]);
      },
      subscribe: async () => undefined,
      unsubscribe: () => undefined,
      acquire: async () => null,
      release: async () => undefined,
      close: async () => undefined,
    };
  }

  /** Hand every recorded broker message back, as a subscriber would receive it. */
  replay(): Array<[string, string]> {
    const received: Array<[string, string]> = [];
    this.setHandler((subject, payload) => received.push([subject, payload]));
    for (const call of this.calls) for (const [subject, message] of call) this.sink!.deliver(subject, message);
    return received;
  }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('broker link batching', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends a tick’s payloads for one subject as one broker message, and each arrives on its own, in order', async () => {
    const link = new RecordingLink();
    await link.connect();
    link.publish('ch.a', 'a1');
    link.publish('members', 'm1');
    link.publish('ch.a', 'a2');
    link.publish('ch.b', 'b1');
    link.publish('ch.a', 'a3');
    await tick();
    expect(link.calls).toHaveLength(1);
    expect(link.calls[0]!.map(([subject]) => subject)).toEqual(['ch.a', 'members', 'ch.b']);
    expect(link.replay()).toEqual([
      ['ch.a', 'a1'],
      ['ch.a', 'a2'],
      ['ch.a', 'a3'],
      ['members', 'm1'],
      ['ch.b', 'b1'],
    ]);
  });

  it('closes a batch before it grows past the size a broker accepts', async () => {
    const link = new RecordingLink();
    await link.connect();
    const big = 'x'.repeat(MAX_BATCH_UNITS / 4 + 1);
    for (let i = 0; i < 10; i++) link.publish('ch.a', `${i}${big}`);
    await tick();
    const messages = link.calls[0]!;
    expect(messages.length).toBe(4); // 3 + 3 + 3 + 1
    for (const [, message] of messages) expect(message.length).toBeLessThan(MAX_BATCH_UNITS + 100);
    expect(link.replay().map(([, p]) => p[0])).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });

  it('at light load sends at the end of the turn, under load waits coalesceMs for more', async () => {
    const link = new RecordingLink({ coalesceMs: 30, coalesceMinRate: 100 });
    await link.connect();
    link.publish('ch.a', 'light');
    await tick();
    expect(link.calls).toHaveLength(1); // no wait while no load has been measured

    // Load: more than 100 payloads in a measured second.
    for (let i = 0; i < 150; i++) link.publish('ch.a', `load ${i}`);
    await tick();
    await new Promise((resolve) => setTimeout(resolve, 1010));
    link.publish('ch.a', 'heavy 1');
    await tick();
    const before = link.calls.length;
    link.publish('ch.a', 'heavy 2');
    await tick();
    link.publish('ch.a', 'heavy 3');
    await new Promise((resolve) => setTimeout(resolve, 60));
    // heavy 1 measured the rate and left; 2 and 3 waited for each other across turns.
    expect(link.calls.length).toBeLessThanOrEqual(before + 1);
    expect(
      link
        .replay()
        .slice(-3)
        .map(([, p]) => p),
    ).toEqual(['heavy 1', 'heavy 2', 'heavy 3']);
  });

  it('forgets old load: after a quiet spell the first payload leaves at once', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const link = new RecordingLink({ coalesceMs: 1000, coalesceMinRate: 10 });
    await link.connect();
    for (let i = 0; i < 50; i++) link.publish('ch.a', String(i));
    await tick();
    vi.setSystemTime(Date.now() + 1100);
    link.publish('ch.a', 'measures the rate');
    await tick();
    vi.setSystemTime(Date.now() + 3000);
    const before = link.calls.length;
    link.publish('ch.a', 'after a quiet spell');
    await tick();
    expect(link.calls.length).toBe(before + 1);
  });
});
