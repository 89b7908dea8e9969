import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metrics } from '../../src/metrics/index.js';
import type { RunningNode } from '../../src/node.js';
import { Bystander, connected, DEV_APP, pusherClient, RawClient, serverSdk, startTestNode, withTimeout } from '../helpers/node.js';
import { pick, seededRandom } from '../helpers/prng.js';

// A seeded fuzz over the wire: mutations of valid Pusher frames from one raw socket, while a
// pusher-js bystander on the same node must keep receiving every event in order. Reproduce a
// failure with FUZZ_SEED=<seed printed in the failure>.

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_2026);
const FRAMES = 3000;
const BATCH = 100;
const MAX_FRAME_CHARS = 16 * 1024; // well under maxFrameBytes: this fuzz is about content, not size

class Mutator {
  private readonly random: () => number;

  constructor(seed: number) {
    this.random = seededRandom(seed);
  }

  int(max: number): number {
    return Math.floor(this.random() * max);
  }

  pick<T>(items: readonly T[]): T {
    return pick(this.random, items);
  }

  /** A valid client frame of every kind pusher-js sends, with plausible and implausible values. */
  seedFrame(): Record<string, unknown> {
    const channel = this.pick(['news', 'bystander', 'private-a', 'presence-b', 'cache-c', 'private-encrypted-d', '#server-to-user-u', 'presence-cache-e']);
    return this.pick<() => Record<string, unknown>>([
      () => ({ event: 'pusher:ping', data: {} }),
      () => ({ event: 'pusher:pong', data: {} }),
      () => ({ event: 'pusher:subscribe', data: { channel } }),
      () => ({ event: 'pusher:subscribe', data: { channel, auth: `${DEV_APP.key}:${'0'.repeat(64)}` } }),
      () => ({ event: 'pusher:subscribe', data: { channel, auth: `${DEV_APP.key}:00`, channel_data: JSON.stringify({ user_id: 'u', user_info: { n: 1 } }) } }),
      () => ({ event: 'pusher:unsubscribe', data: { channel } }),
      () => ({ event: 'pusher:signin', data: { auth: `${DEV_APP.key}:00`, user_data: JSON.stringify({ id: 'u', watchlist: ['v'] }) } }),
      () => ({ event: 'client-typing', channel, data: { text: 'hi' } }),
      () => ({ event: 'client-typing', channel, data: '{"text":"hi"}' }),
    ])();
  }

  /** Any JSON value, sometimes nested or long, sometimes with keys that bite naive code. */
  value(depth = 0): unknown {
    const choices: Array<() => unknown> = [
      () => null,
      () => this.int(2) === 0,
      () => this.pick([0, -1, 1e308, -0, 2 ** 53 + 1, 0.5]),
      () => this.pick(['', 'news', 'private-', 'presence-', 'client-', 'pusher:', '__proto__', 'constructor', '\u0000', '\ud800', '💥']),
      () => 'x'.repeat(this.int(3000)),
      () => [],
      () => ({}),
    ];
    if (depth < 4) {
      choices.push(
        () => Array.from({ length: this.int(4) }, () => this.value(depth + 1)),
        () =>
          Object.fromEntries(
            Array.from({ length: this.int(4) }, () => [
              this.pick(['channel', 'data', 'auth', 'event', 'channel_data', 'user_data', '__proto__', 'user_id']),
              this.value(depth + 1),
            ]),
          ),
      );
    }
    return this.pick(choices)();
  }

  /** Replace one field (top level or inside data) with an arbitrary value, or delete it. */
  private structural(frame: Record<string, unknown>): string {
    const target = typeof frame.data === 'object' && frame.data !== null && this.int(2) === 0 ? (frame.data as Record<string, unknown>) : frame;
    const key = this.pick([...Object.keys(target), 'extra', '__proto__']);
    if (this.int(5) === 0) delete target[key];
    else target[key] = this.value();
    return JSON.stringify(frame);
  }

  /** Byte-level damage to the text of a frame. */
  private textual(text: string): string {
    const at = this.int(text.length + 1);
    switch (this.int(6)) {
      case 0:
        return text.slice(0, at); // truncated
      case 1:
        return text.slice(0, at) + this.pick(['"', '{', '}', '[', ']', ',', ':', '\\', '\u0000', '\ud83d', 'null']) + text.slice(at + 1);
      case 2:
        return text.slice(0, at) + text.slice(at + 1 + this.int(10));
      case 3:
        return text + text; // two frames glued together
      case 4:
        return '['.repeat(this.int(5000)) + ']'.repeat(this.int(5000)); // deep nesting
      default:
        return text.slice(0, at) + JSON.stringify(this.value()) + text.slice(at);
    }
  }

  /** One mutated frame: text (mostly) or binary. */
  frame(): { data: string | Buffer; binary: boolean } {
    const seed = this.seedFrame();
    const roll = this.int(20);
    if (roll === 0) return { data: Buffer.from(JSON.stringify(seed)), binary: true };
    let text = roll < 10 ? this.structural(seed) : this.textual(JSON.stringify(seed));
    if (this.int(4) === 0) text = this.textual(text);
    return { data: text.slice(0, MAX_FRAME_CHARS), binary: false };
  }
}

let node: RunningNode;
let bystander: Bystander;

beforeAll(async () => {
  node = await startTestNode();
  bystander = await Bystander.join(node, serverSdk(node));
});
afterAll(async () => {
  bystander.disconnect();
  await node.stop({ drainSeconds: 0 });
});

describe(`wire fuzz (seed ${SEED})`, () => {
  it(`survives ${FRAMES} mutated frames with no fault, and the bystander misses nothing`, async () => {
    const faultsBefore = (await metrics.handlerFaults.get()).values.reduce((sum, v) => sum + v.value, 0);
    const mutator = new Mutator(SEED);
    const closes: number[] = [];
    let fuzzer = await RawClient.connect(node);
    try {
      for (let sent = 0; sent < FRAMES; sent += BATCH) {
        for (let i = 0; i < BATCH; i++) {
          const { data, binary } = mutator.frame();
          fuzzer.ws.send(data, { binary });
        }
        await bystander.publish(2);
        // A ping after each batch: the socket is still served and its backlog is bounded.
        const from = fuzzer.messages.length;
        fuzzer.send({ event: 'pusher:ping', data: {} });
        try {
          await fuzzer.next((m) => m.event === 'pusher:pong', 5000, from);
        } catch (err) {
          if (fuzzer.closeCode === undefined) throw err;
          closes.push(fuzzer.closeCode);
          fuzzer = await RawClient.connect(node);
        }
      }
      expect(closes, `seed ${SEED}: the node closed the fuzzing socket`).toEqual([]);
      const faultsAfter = (await metrics.handlerFaults.get()).values.reduce((sum, v) => sum + v.value, 0);
      expect(faultsAfter - faultsBefore, `seed ${SEED}: handler faults`).toBe(0);
      expect(fuzzer.messages.filter((m) => m.event === 'pusher:error').length).toBeGreaterThan(FRAMES / 2);

      await bystander.publish(10);
      await bystander.assertIntact(10_000);
      // The node still admits and serves a new client.
      const newcomer = pusherClient(node);
      try {
        await withTimeout(connected(newcomer), 3000, 'a new client could not connect after the fuzz');
      } finally {
        newcomer.disconnect();
      }
    } finally {
      fuzzer.ws.terminate();
    }
  }, 40_000);
});
