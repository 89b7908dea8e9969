import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorCatalogue } from '../../../src/protocol/errors.js';

describe('error catalogue documentation', () => {
  const doc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');
  it.each(Object.entries(errorCatalogue))('documents %s with its numbers in docs/protocol.md', (code, entry) => {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
    expect(row, `docs/protocol.md has no row for ${code}`).toBeDefined();
    for (const n of [entry.closeCode, entry.httpStatus, entry.pusherCode]) {
      if (typeof n === 'number') expect(row).toContain(String(n));
    }
  });
});
