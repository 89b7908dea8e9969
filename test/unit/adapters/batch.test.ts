import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch } from '../../../src/adapters/batch.js';

function decodeAll(message: string): { payloads: string[]; whole: boolean } {
  const payloads: string[] = [];
  const whole = decodeBatch(message, (p) => payloads.push(p));
  return { payloads, whole };
}

describe('cluster message batches', () => {
  it('sends one payload as itself', () => {
    expect(encodeBatch(['P\nnode\napp\nch\n\n{"event":"x"}'])).toBe('P\nnode\napp\nch\n\n{"event":"x"}');
    expect(decodeAll('{"t":"heartbeat"}')).toEqual({ payloads: ['{"t":"heartbeat"}'], whole: true });
  });

  it('round-trips payloads with newlines, digits, empty strings and characters outside the BMP, in order', () => {
    const payloads = ['P\nn\na\nc\n\n{"data":"12\\n3"}', '', '42\n', '😀 snow ☃', 'x'.repeat(70_000), '\u0000B\nlooks like a batch'];
    const message = encodeBatch(payloads);
    expect(decodeAll(message)).toEqual({ payloads, whole: true });
  });

  it('wraps a single payload that could be mistaken for a batch', () => {
    const tricky = '\u0000B\n3\nabc';
    const message = encodeBatch([tricky]);
    expect(message).not.toBe(tricky);
    expect(decodeAll(message)).toEqual({ payloads: [tricky], whole: true });
  });

  it('delivers what precedes damage and reports the rest lost', () => {
    const message = encodeBatch(['first', 'second', 'third']);
    expect(decodeAll(message.slice(0, -2))).toEqual({ payloads: ['first', 'second'], whole: false });
    expect(decodeAll('\u0000B\nabc\nfirst')).toEqual({ payloads: [], whole: false });
    expect(decodeAll('\u0000B\n99\nshort')).toEqual({ payloads: [], whole: false });
    expect(decodeAll('\u0000B\n1e1\n0123456789')).toEqual({ payloads: [], whole: false });
  });
});
