import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configOptions } from '../../../src/config/options.js';
import { appSchema } from '../../../src/config/schema.js';

// Every option a user can set is in docs/configuration.md with its flag and environment name.
describe('configuration documentation', () => {
  const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
  it.each(configOptions.map((o) => [o.key, o] as const))('documents %s', (key, option) => {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${key}\` |`));
    expect(row, `docs/configuration.md has no row for ${key}`).toBeDefined();
    expect(row).toContain(`--${option.flag}`);
    expect(row).toContain(option.envName);
  });
  it.each(Object.keys(appSchema.shape))('documents the app field %s', (key) => {
    expect(doc.split('\n').some((line) => line.startsWith(`| \`${key}\` |`))).toBe(true);
  });
});
