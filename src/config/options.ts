import { z } from 'zod';
import { configSchema } from './schema.js';

/** How a text value (flag or env) for an option is turned into the type the schema expects. */
type OptionKind = 'string' | 'number' | 'boolean' | 'enum' | 'json-array';

/** One top-level config option with the names it goes by outside the schema. */
export interface ConfigOption {
  /** The schema key, e.g. `maxConnections`; also commander's attribute name for the flag. */
  readonly key: string;
  /** Flag name without dashes, e.g. `max-connections`. */
  readonly flag: string;
  /** Environment variable, e.g. `SWITCHBOARD_MAX_CONNECTIONS`. */
  readonly envName: string;
  readonly kind: OptionKind;
  /** Allowed values when `kind` is `enum`. */
  readonly choices?: readonly string[];
  /** The schema default (undefined for optional options without one). */
  readonly defaultValue?: unknown;
  /** What the option does, from the schema's `.describe()`: the one text behind `--help` and the docs. */
  readonly description: string;
  /** The default as help and docs show it (JSON, or the schema's `defaultLabel`); undefined when there is none. */
  readonly defaultText?: string;
}

export const ENV_PREFIX = 'SWITCHBOARD_';

/**
 * SWITCHBOARD_* names that are not config options but are legitimately set around a node
 * (the config file path, CI switches for the test suite). Any other SWITCHBOARD_* name that
 * matches no option is an error, so a typo never passes as "configured".
 */
export const RESERVED_ENV_NAMES: ReadonlySet<string> = new Set(['SWITCHBOARD_CONFIG', 'SWITCHBOARD_REQUIRE_SERVICES']);

/** `maxConnections` → `max-connections`. */
export function toFlagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** `maxConnections` → `SWITCHBOARD_MAX_CONNECTIONS`. */
export function toEnvName(key: string): string {
  return ENV_PREFIX + key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

/** What a schema field says about itself, read through its optional/default/nullable wrappers. */
export interface FieldDoc {
  /** The field with its wrappers peeled off. */
  readonly base: z.core.$ZodType;
  readonly description?: string;
  readonly defaultValue?: unknown;
  /** The default as help and docs show it: the field's `defaultLabel` metadata, else its JSON. */
  readonly defaultText?: string;
}

/**
 * Peel optional/default/nullable wrappers off a field, keeping the default and the
 * outermost description found. Zod 4 keeps metadata across refinements (`.min()` after
 * `.describe()`), but a `.default()`/`.optional()` wrapper is a new schema with its own
 * registry entry, so every layer is looked at: `.describe()` may sit inside or outside them.
 */
export function fieldDoc(schema: z.core.$ZodType): FieldDoc {
  let current = schema;
  let defaultValue: unknown;
  let description: string | undefined;
  let defaultLabel: string | undefined;
  for (;;) {
    const meta = z.globalRegistry.get(current);
    if (description === undefined && typeof meta?.description === 'string') description = meta.description;
    if (defaultLabel === undefined && typeof meta?.defaultLabel === 'string') defaultLabel = meta.defaultLabel;
    const def = current._zod.def;
    if (def.type === 'default') {
      const d = def as z.core.$ZodDefaultDef;
      defaultValue = d.defaultValue;
      current = d.innerType;
    } else if (def.type === 'optional' || def.type === 'nullable') {
      current = (def as z.core.$ZodOptionalDef).innerType;
    } else {
      const defaultText = defaultLabel ?? (defaultValue === undefined ? undefined : JSON.stringify(defaultValue));
      return { base: current, description, defaultValue, defaultText };
    }
  }
}

/** The flag/env description of one schema field (also used by the balancer's schema). */
export function describeField(key: string, field: z.core.$ZodType): ConfigOption {
  const { base, defaultValue, defaultText, description } = fieldDoc(field);
  // Help and docs both print this text, so an option without one fails at load, not in review.
  if (description === undefined || description.trim() === '') throw new Error(`config option ${key} has no .describe() text`);
  const names = { key, flag: toFlagName(key), envName: toEnvName(key), defaultValue, defaultText, description };
  const type = base._zod.def.type;
  switch (type) {
    case 'string':
    case 'number':
    case 'boolean':
      return { ...names, kind: type };
    case 'enum': {
      const entries = (base._zod.def as z.core.$ZodEnumDef).entries;
      return { ...names, kind: 'enum', choices: Object.values(entries).map(String) };
    }
    case 'array':
      return { ...names, kind: 'json-array' };
    default:
      // A new option type needs a decision on how it is spelled in a flag and in env.
      throw new Error(`config option ${key}: schema type "${type}" has no flag/env mapping`);
  }
}

/** Every top-level option of the schema, derived from its shape (never listed by hand). */
export const configOptions: readonly ConfigOption[] = Object.freeze(
  Object.entries(configSchema.shape).map(([key, field]) => Object.freeze(describeField(key, field))),
);

const byKey = new Map(configOptions.map((o) => [o.key, o]));
const byEnvName = new Map(configOptions.map((o) => [o.envName, o]));

export function optionByKey(key: string): ConfigOption | undefined {
  return byKey.get(key);
}

export function optionByEnvName(name: string): ConfigOption | undefined {
  return byEnvName.get(name);
}

/** The outcome of reading one text value: the typed value, or why it could not be read. */
export type ParsedValue = { ok: true; value: unknown } | { ok: false; reason: string };

// Plain decimal or exponent notation only: `Number()` would also accept '', ' ', '0x10', 'Infinity'.
const STRICT_NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Turn the text of a flag or env value into the option's type; range checks are the schema's. */
export function parseOptionText(option: Pick<ConfigOption, 'kind'>, text: string): ParsedValue {
  switch (option.kind) {
    case 'string':
    case 'enum':
      return { ok: true, value: text };
    case 'number':
      return STRICT_NUMBER.test(text) ? { ok: true, value: Number(text) } : { ok: false, reason: `expected a number, got ${JSON.stringify(text)}` };
    case 'boolean':
      if (text === 'true' || text === '1') return { ok: true, value: true };
      if (text === 'false' || text === '0') return { ok: true, value: false };
      return { ok: false, reason: `expected true, false, 1 or 0, got ${JSON.stringify(text)}` };
    case 'json-array':
      return parseJsonArray(text);
  }
}

function parseJsonArray(text: string): ParsedValue {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `must be a JSON array: ${(err as Error).message}` };
  }
  if (!Array.isArray(value)) return { ok: false, reason: 'must be a JSON array' };
  return { ok: true, value };
}
