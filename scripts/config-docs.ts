/**
 * `npm run docs:config`: rewrite the option tables of docs/configuration.md,
 * docs/webhooks.md and docs/balancer.md from the schemas' `.describe()` texts,
 * so the docs and `--help` say the same thing. Only the text between a
 * `<!-- generated: NAME -->` / `<!-- end generated: NAME -->` pair is replaced;
 * test/unit/config/documented.test.ts fails when a committed doc differs from
 * what this renders.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { balancerOptions } from '../src/balancer/config.js';
import { configOptions, fieldDoc, type ConfigOption } from '../src/config/options.js';
import { appSchema } from '../src/config/schema.js';
import { webhookEndpointSchema } from '../src/config/webhook-schema.js';

const root = new URL('../', import.meta.url);

/** A table cell's text as written; a `|` or line break would need escaping, so it is refused instead. */
function cell(text: string): string {
  if (/[|\n]/.test(text)) throw new Error(`docs:config: a description may not contain "|" or a line break: ${text}`);
  return text;
}

function code(text: string | undefined): string {
  return text === undefined ? '' : `\`${text}\``;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.map(cell).join(' | ')} |`;
  return [line(header), `|${header.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

function requiredDescription(key: string, field: z.core.$ZodType): string {
  const { description } = fieldDoc(field);
  if (description === undefined) throw new Error(`docs:config: ${key} has no .describe() text`);
  return description;
}

/** A field's default cell: its default, nothing for an optional field, `required` otherwise. */
function defaultCell(field: z.core.$ZodType): string {
  const { defaultText } = fieldDoc(field);
  if (defaultText !== undefined) return code(defaultText);
  return field._zod.optin === 'optional' ? '' : 'required';
}

function nodeOptionsTable(): string {
  return table(
    ['option', 'flag', 'environment', 'default', 'meaning'],
    configOptions.map((o) => [code(o.key), code(`--${o.flag}`), code(o.envName), code(o.defaultText), o.description]),
  );
}

function fieldsTable(shape: Record<string, z.core.$ZodType>): string {
  return table(
    ['field', 'default', 'meaning'],
    Object.entries(shape).map(([key, field]) => [code(key), defaultCell(field), requiredDescription(key, field)]),
  );
}

function webhookFieldsTable(): string {
  const rows: [string, z.core.$ZodType][] = [];
  for (const [key, field] of Object.entries(webhookEndpointSchema.shape)) {
    rows.push([key, field]);
    const { base } = fieldDoc(field);
    if (base._zod.def.type === 'object') {
      for (const [sub, subField] of Object.entries((base as z.core.$ZodObject)._zod.def.shape)) rows.push([`${key}.${sub}`, subField]);
    }
  }
  return fieldsTable(Object.fromEntries(rows));
}

function balancerOptionsTable(): string {
  const flag = (o: ConfigOption): string => code(`--${o.flag}`);
  return table(
    ['flag', 'environment', 'default', 'meaning'],
    balancerOptions.map((o) => [flag(o), code(o.envName), code(o.defaultText), o.description]),
  );
}

/** Each generated region: the doc it lives in and what it holds. */
const regions: Record<string, { readonly file: string; readonly render: () => string }> = {
  'node-options': { file: 'docs/configuration.md', render: nodeOptionsTable },
  'app-fields': { file: 'docs/configuration.md', render: () => fieldsTable(appSchema.shape) },
  'webhook-endpoint-fields': { file: 'docs/webhooks.md', render: webhookFieldsTable },
  'balancer-options': { file: 'docs/balancer.md', render: balancerOptionsTable },
};

/** The docs files that hold generated regions. */
export const generatedDocs: readonly string[] = [...new Set(Object.values(regions).map((r) => r.file))];

/** `text` (the current content of `file`) with every generated region of that file re-rendered. */
export function renderDoc(file: string, text: string): string {
  let out = text;
  for (const [name, region] of Object.entries(regions)) {
    if (region.file !== file) continue;
    const begin = `<!-- generated: ${name} (npm run docs:config; edit the schema's .describe(), not this table) -->`;
    const end = `<!-- end generated: ${name} -->`;
    const from = out.indexOf(begin);
    const to = out.indexOf(end);
    if (from === -1 || to < from) throw new Error(`docs:config: ${file} has no region "${name}" (${begin} ... ${end})`);
    out = `${out.slice(0, from)}${begin}\n${region.render()}\n${out.slice(to)}`;
  }
  return out;
}

/** Read a doc from the repository. */
export function readDoc(file: string): string {
  return readFileSync(new URL(file, root), 'utf8');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  for (const file of generatedDocs) {
    const before = readDoc(file);
    const after = renderDoc(file, before);
    if (after !== before) writeFileSync(new URL(file, root), after);
    process.stdout.write(`${file}: ${after === before ? 'unchanged' : 'rewritten'}\n`);
  }
}
