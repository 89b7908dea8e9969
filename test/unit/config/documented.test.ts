import { describe, expect, it } from 'vitest';
import { generatedDocs, readDoc, renderDoc } from '../../../scripts/config-docs.js';
import { balancerOptions } from '../../../src/balancer/config.js';
import { configOptions, fieldDoc } from '../../../src/config/options.js';
import { appSchema } from '../../../src/config/schema.js';
import { webhookEndpointSchema } from '../../../src/config/webhook-schema.js';

// The option tables in docs/ are generated from the schemas' .describe() texts (npm run docs:config),
// the same texts `--help` prints, so a doc row cannot drift from the schema.
describe('configuration documentation', () => {
  it.each(generatedDocs)('%s equals what npm run docs:config renders', (file) => {
    const committed = readDoc(file);
    expect(committed, `${file} is stale: run npm run docs:config`).toBe(renderDoc(file, committed));
  });

  const configDoc = readDoc('docs/configuration.md');
  const rowOf = (doc: string, first: string): string | undefined => doc.split('\n').find((line) => line.startsWith(`| \`${first}\` |`));
  // App fields share names with node options (maxConnections): look only below the Apps heading.
  const appsDoc = configDoc.slice(configDoc.indexOf('\n## Apps'));

  it.each(configOptions.map((o) => [o.key, o] as const))('documents %s with its flag, env, default and meaning', (key, option) => {
    const defaultCell = option.defaultText === undefined ? '' : `\`${option.defaultText}\``;
    expect(rowOf(configDoc, key)).toBe(`| \`${key}\` | \`--${option.flag}\` | \`${option.envName}\` | ${defaultCell} | ${option.description} |`);
  });

  it.each(Object.entries(appSchema.shape))('documents the app field %s with its description', (key, field) => {
    const description = fieldDoc(field).description;
    expect(description, `${key} has no .describe()`).toBeTruthy();
    expect(rowOf(appsDoc, key)?.endsWith(` | ${description} |`)).toBe(true);
  });

  it.each(Object.entries(webhookEndpointSchema.shape))('documents the webhook endpoint field %s in docs/webhooks.md', (key, field) => {
    const description = fieldDoc(field).description;
    expect(description, `${key} has no .describe()`).toBeTruthy();
    expect(rowOf(readDoc('docs/webhooks.md'), key)?.endsWith(` | ${description} |`)).toBe(true);
  });

  it.each(balancerOptions.map((o) => [o.flag, o] as const))('docs/balancer.md documents --%s', (flag, option) => {
    const defaultCell = option.defaultText === undefined ? '' : `\`${option.defaultText}\``;
    expect(rowOf(readDoc('docs/balancer.md'), `--${flag}`)).toBe(`| \`--${flag}\` | \`${option.envName}\` | ${defaultCell} | ${option.description} |`);
  });

  it('finds descriptions inside and outside .default()/.optional() wrappers', () => {
    const inner = appSchema.shape.maxConnections.unwrap().describe('inside').default(0);
    expect(fieldDoc(inner)).toMatchObject({ description: 'inside', defaultValue: 0, defaultText: '0' });
    expect(fieldDoc(appSchema.shape.name).description).toBe('A label.');
  });

  it('renderDoc refuses a doc without its generated region', () => {
    expect(() => renderDoc('docs/balancer.md', '# nothing here\n')).toThrow(/no region "balancer-options"/);
  });
});
