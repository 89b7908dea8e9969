import { describe, expect, it } from 'vitest';
import { createHistogram, encodeHistogram, mergeEncoded, recordMicros, summarize } from '../../src/bench/histogram.js';
import { encodeMarker, readMarker, type Marker } from '../../src/bench/marker.js';
import { findMaxOf, splitGroups } from '../../src/bench/run.js';
import type { PhaseResult } from '../../src/bench/results.js';
import { fanoutExpected } from '../../src/bench/scenarios/types.js';
import { lossOf, ReceiverTracker, StreamTracker } from '../../src/bench/sequence-tracker.js';

describe('histograms across workers', () => {
  it('merging encoded worker histograms gives the percentiles of all values together', () => {
    const a = createHistogram();
    const b = createHistogram();
    for (let i = 1; i <= 900; i++) recordMicros(a, 1000); // 900 deliveries at 1 ms in worker A
    for (let i = 1; i <= 100; i++) recordMicros(b, 100_000); // 100 at 100 ms in worker B
    const merged = mergeEncoded(createHistogram(), [encodeHistogram(a), encodeHistogram(b), '']);
    const s = summarize(merged);
    expect(s.count).toBe(1000);
    expect(s.p50).toBeCloseTo(1, 1);
    expect(s.p90).toBeCloseTo(1, 1);
    expect(s.p99).toBeCloseTo(100, 0);
    expect(s.max).toBeCloseTo(100, 0);
    // Neither worker alone shows this distribution.
    expect(summarize(a).p99).toBeCloseTo(1, 1);
  });

  it('an empty histogram summarizes to zeros', () => {
    expect(summarize(createHistogram())).toEqual({ count: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0, max: 0 });
  });
});

describe('delivery accounting', () => {
  it('counts duplicates and out-of-order per stream', () => {
    const stream = new StreamTracker();
    for (const seq of [0, 1, 2, 2, 5, 3, 4, 4, 6]) stream.record(seq);
    expect(stream.unique).toBe(7);
    expect(stream.duplicates).toBe(2);
    expect(stream.outOfOrder).toBe(2); // 3 and 4 came after 5
  });

  it('keeps publishers apart, and grows past its first buffer', () => {
    const receiver = new ReceiverTracker();
    expect(receiver.record(1, 0, 10_000)).toBe(true);
    expect(receiver.record(2, 0, 10_000)).toBe(true);
    expect(receiver.record(1, 0, 10_000)).toBe(false);
    expect(receiver.record(2, 0, 9_999)).toBe(true);
    expect(receiver.outOfOrder()).toBe(1);
  });

  it('counts order per publisher connection: interleaved connections are in order, a reordered one is not', () => {
    // Two connections of one publisher, each sent 0,1,2,3; the server got them interleaved.
    const interleaved = new ReceiverTracker();
    for (const [connection, seq] of [
      [0, 0],
      [1, 0],
      [1, 1],
      [0, 1],
      [1, 2],
      [0, 2],
      [0, 3],
      [1, 3],
    ] as const)
      interleaved.record(0, connection, seq);
    expect(interleaved.outOfOrder()).toBe(0);
    // The same, but connection 1's 2 arrived before its 1: a server that reordered what one connection sent.
    const reordered = new ReceiverTracker();
    for (const [connection, seq] of [
      [0, 0],
      [1, 0],
      [1, 2],
      [0, 1],
      [1, 1],
      [0, 2],
      [0, 3],
      [1, 3],
    ] as const)
      reordered.record(0, connection, seq);
    expect(reordered.outOfOrder()).toBe(1);
    // Connection numbers never alias the next publisher's streams.
    const apart = new ReceiverTracker();
    apart.record(0, 1023, 5);
    expect(apart.record(1, 0, 5)).toBe(true);
    apart.record(1, 0, 4);
    expect(apart.outOfOrder()).toBe(1);
  });

  it('loss is expected minus first copies, never negative', () => {
    expect(lossOf(1000, 990)).toEqual({ loss: 10, lossPct: 1 });
    expect(lossOf(0, 0)).toEqual({ loss: 0, lossPct: 0 });
    expect(lossOf(10, 12).loss).toBe(0);
  });

  it('expected deliveries follow each channel’s subscribers (minus the sender for client events)', () => {
    const subscribed = { a: 10, b: 5 };
    expect(fanoutExpected({ a: 3, b: 2 }, subscribed)).toBe(40);
    expect(fanoutExpected({ a: 3, b: 2, gone: 7 }, subscribed, 1)).toBe(35);
  });

  it('splits clients over workers with unique ids', () => {
    const shares = splitGroups(
      [
        { channel: 'x', count: 5, firstIndex: 0 },
        { channel: 'y', count: 1, firstIndex: 5 },
        { channel: 'z', count: 1, firstIndex: 6 },
      ],
      2,
    );
    const all = shares.flat();
    expect(all.reduce((n, g) => n + g.count, 0)).toBe(7);
    const ids = all.flatMap((g) => Array.from({ length: g.count }, (_, i) => g.firstIndex + i));
    expect(new Set(ids).size).toBe(7);
    expect(ids).not.toContain(0); // 0 is the orchestrator's publisher id
    expect(shares[0]?.length).toBeGreaterThan(0);
    expect(shares[1]?.length).toBeGreaterThan(0);
  });
});

describe('message marker', () => {
  const m: Marker = { scheduledMicros: 123456789012, phase: 3, publisher: 17, connection: 5, seq: 4242 };

  it('reads back from a Pusher envelope, a raw frame and a string', () => {
    const text = encodeMarker(m);
    const out: Marker = { scheduledMicros: 0, phase: 0, publisher: 0, connection: 0, seq: 0 };
    const pusher = Buffer.from(JSON.stringify({ event: 'bench', channel: 'bench-0', data: text }));
    expect(readMarker(pusher, out)).toBe(true);
    expect(out).toEqual(m);
    expect(readMarker(`42["msg","c","${encodeMarker({ ...m, seq: 1 }, 200)}"]`, out)).toBe(true);
    expect(out.seq).toBe(1);
  });

  it('pads to the asked size and ignores control frames and damaged markers', () => {
    expect(encodeMarker(m, 300)).toHaveLength(300);
    const out: Marker = { scheduledMicros: 0, phase: 0, publisher: 0, connection: 0, seq: 0 };
    expect(readMarker(Buffer.from('{"event":"pusher:pong","data":{}}'), out)).toBe(false);
    expect(readMarker('~T12~F1~P~C0~S3~', out)).toBe(false);
    expect(readMarker('~T12~F1~P2~C0~S3', out)).toBe(false);
    expect(readMarker('~T12~F1~P2~S3~', out)).toBe(false); // the old marker, without its connection
  });
});

describe('find-max', () => {
  const step = (rate: number, passed: boolean): PhaseResult => ({ rate, passed }) as PhaseResult;
  it('reports the last step that passed with all before it', () => {
    expect(findMaxOf([step(50, true), step(75, true), step(112, false)])).toEqual({ lastGoodRate: 75, firstBadRate: 112 });
    expect(findMaxOf([step(50, false)])).toEqual({ lastGoodRate: null, firstBadRate: 50 });
    expect(findMaxOf([step(50, true)])).toEqual({ lastGoodRate: 50, firstBadRate: null });
  });
});
