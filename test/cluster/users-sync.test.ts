import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../src/cluster/messages.js';
import { UsersSyncAssembler, splitUsers, type UserPair } from '../../src/cluster/users-sync.js';

const pairs = (n: number): UserPair[] => Array.from({ length: n }, (_, i) => ['app', `user-${i}`]);

describe('users-sync in parts', () => {
  it('splits a long list into parts under the size limit, in order, and an empty list into one empty part', () => {
    const users = pairs(1000);
    const parts = splitUsers(users, 2000);
    expect(parts.length).toBeGreaterThan(5);
    for (const part of parts) expect(JSON.stringify(part).length).toBeLessThanOrEqual(2000);
    expect(parts.flat()).toEqual(users);
    expect(splitUsers([])).toEqual([[]]);
  });

  it('hands over a node’s list only when its round is whole', () => {
    const assembler = new UsersSyncAssembler();
    const parts = splitUsers(pairs(300), 1500);
    const results = parts.map((users, part) => assembler.add({ from: 'b', inc: 'i1', users, round: '1', part, parts: parts.length }));
    expect(results.slice(0, -1).every((r) => r === null)).toBe(true);
    expect(results.at(-1)).toEqual(pairs(300));
    expect(assembler.add({ from: 'b', inc: 'i1', users: [['app', 'solo']] })).toEqual([['app', 'solo']]);
  });

  it('gives up a round that lost a part, or that it joined midway, and takes the next one', () => {
    const assembler = new UsersSyncAssembler();
    expect(assembler.add({ from: 'b', inc: 'i1', users: [['app', 'x']], round: '1', part: 1, parts: 3 })).toBeNull(); // joined midway
    expect(assembler.add({ from: 'b', inc: 'i1', users: [['app', 'y']], round: '1', part: 2, parts: 3 })).toBeNull();
    expect(assembler.add({ from: 'b', inc: 'i1', users: [['app', 'a']], round: '2', part: 0, parts: 3 })).toBeNull();
    expect(assembler.add({ from: 'b', inc: 'i1', users: [['app', 'c']], round: '2', part: 2, parts: 3 })).toBeNull(); // part 1 lost
    expect(assembler.add({ from: 'b', inc: 'i1', users: [['app', 'b']], round: '2', part: 1, parts: 3 })).toBeNull();
    const round3 = [0, 1].map((part) => assembler.add({ from: 'b', inc: 'i1', users: [['app', `r3-${part}`]], round: '3', part, parts: 2 }));
    expect(round3).toEqual([
      null,
      [
        ['app', 'r3-0'],
        ['app', 'r3-1'],
      ],
    ]);
  });

  it('does not mix a restarted node’s new round with its old run’s parts', () => {
    const assembler = new UsersSyncAssembler();
    expect(assembler.add({ from: 'b', inc: 'old', users: [['app', 'stale']], round: '7', part: 0, parts: 2 })).toBeNull();
    expect(assembler.add({ from: 'b', inc: 'new', users: [['app', 'fresh']], round: '7', part: 1, parts: 2 })).toBeNull();
    expect(assembler.add({ from: 'b', inc: 'new', users: [['app', 'f0']], round: '1', part: 0, parts: 2 })).toBeNull();
    expect(assembler.add({ from: 'b', inc: 'new', users: [['app', 'f1']], round: '1', part: 1, parts: 2 })).toEqual([
      ['app', 'f0'],
      ['app', 'f1'],
    ]);
  });

  it('accepts parts on the wire only with a round and 0 <= part < parts', () => {
    const base = { t: 'users-sync', from: 'b', inc: 'i', users: [['app', 'u']] };
    expect(decodeMessage(encodeMessage({ ...base, round: '1', part: 0, parts: 2 } as never))).not.toBeNull();
    expect(decodeMessage(JSON.stringify(base))).not.toBeNull();
    expect(decodeMessage(JSON.stringify({ ...base, round: '1', part: 2, parts: 2 }))).toBeNull();
    expect(decodeMessage(JSON.stringify({ ...base, round: '1', part: -1, parts: 2 }))).toBeNull();
    expect(decodeMessage(JSON.stringify({ ...base, part: 0, parts: 2 }))).toBeNull();
    expect(decodeMessage(JSON.stringify({ ...base, round: '1', part: 0.5, parts: 2 }))).toBeNull();
  });
});
