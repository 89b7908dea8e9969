import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../../src/node.js';
import { DEV_APP, RawClient, startTestNode } from '../helpers/node.js';
import { seededRandom } from '../helpers/prng.js';
import { eventsOn, publish, subscribeRaw, until } from './helpers.js';

// Hostile recover values against a node alone (memory store, the synchronous path).

let node: RunningNode;

beforeAll(async () => {
  node = await startTestNode({ apps: [{ ...DEV_APP, history: [{ pattern: 'chat-*', size: 10, ttlSeconds: 60 }] }] });
});

afterAll(async () => {
  await node.stop({ drainSeconds: 0 });
});

describe('forged and malformed recover, memory store', () => {
  it('every one gets subscription_succeeded with recovered:false, nothing replayed, and the node keeps serving', async () => {
    for (let i = 1; i <= 3; i++) await publish(node, 'chat-fuzz', `e${i}`);
    const rnd = seededRandom(1414);
    const atoms: unknown[] = [null, true, false, 0, -1, 1.5, 2 ** 53, -(2 ** 53), 1e308, '', 'x', '3', [], {}, [1, 2], { a: 1 }, 'é'.repeat(70)];
    const pick = (): unknown => atoms[Math.floor(rnd() * atoms.length)];
    const client = await RawClient.connect(node);
    await client.event('pusher:connection_established');
    const { epoch } = await subscribeRaw(client, 'chat-fuzz');
    for (let i = 0; i < 300; i++) {
      const shape = rnd();
      // Raw text as well as objects: the frame parser sees exactly what a hostile client sends.
      const recover =
        shape < 0.3
          ? pick()
          : shape < 0.6
            ? { offset: pick(), epoch: pick() }
            : shape < 0.8
              ? { offset: 4 + Math.floor(rnd() * 1e9), epoch }
              : { offset: Math.floor(rnd() * 3), epoch: `${epoch}x` };
      const s = await subscribeRaw(client, 'chat-fuzz', recover);
      if (recover !== null && recover !== undefined) expect(s.recovered, JSON.stringify(recover)).toBe(false);
    }
    expect(eventsOn(client, 'chat-fuzz')).toEqual([]);
    expect(client.messages.filter((m) => m.event === 'pusher:error')).toEqual([]);
    // Still serving: a real recover works and live events flow.
    const good = await subscribeRaw(client, 'chat-fuzz', { offset: 1, epoch });
    expect(good.recovered).toBe(true);
    await publish(node, 'chat-fuzz', 'live');
    await until(() => eventsOn(client, 'chat-fuzz').length === 3);
    expect(eventsOn(client, 'chat-fuzz').map((m) => m.data)).toEqual(['e2', 'e3', 'live']);
    client.close();
  });
});
