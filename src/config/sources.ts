import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ConfigIssue } from './errors.js';
import { ENV_PREFIX, RESERVED_ENV_NAMES, optionByEnvName, optionByKey, parseOptionText, toFlagName } from './options.js';

/** Raw (not yet validated) top-level values from one source, with where each came from. */
export interface Layer {
  readonly values: Record<string, unknown>;
  /** Top-level key → a label naming its origin (`--port`, `SWITCHBOARD_PORT`, `file x.yaml`). */
  readonly origins: ReadonlyMap<string, string>;
  readonly issues: readonly ConfigIssue[];
}

function layerOf(values: Record<string, unknown>, origins: Map<string, string>, issues: ConfigIssue[]): Layer {
  return { values, origins, issues };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Read a JSON or YAML config file. Keys are not checked here: the strict schema reports
 * unknown ones with their full path, nested ones included.
 */
export function readFileLayer(path: string): Layer {
  const label = `file ${path}`;
  const fail = (message: string): Layer => layerOf({}, new Map(), [{ path, message }]);
  const extension = extname(path).toLowerCase();
  if (extension !== '.json' && extension !== '.yaml' && extension !== '.yml') {
    return fail(`unsupported config file type "${extension}": use .json, .yaml or .yml`);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return fail(`cannot read config file: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = extension === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    return fail(`cannot parse config file: ${(err as Error).message}`);
  }
  // An empty YAML document parses to null: no settings, which is not an error.
  if (parsed === null || parsed === undefined) return layerOf({}, new Map(), []);
  if (!isPlainObject(parsed)) return fail('config file must hold an object of options at the top level');
  return layerOf(parsed, new Map(Object.keys(parsed).map((k) => [k, label])), []);
}

/** Options from SWITCHBOARD_* variables; an unknown SWITCHBOARD_* name is an error. */
export function readEnvLayer(env: NodeJS.ProcessEnv): Layer {
  const values: Record<string, unknown> = {};
  const origins = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || RESERVED_ENV_NAMES.has(name) || text === undefined) continue;
    const option = optionByEnvName(name);
    if (option === undefined) {
      issues.push({ path: name, message: 'unknown environment variable: no Switchboard option has this name' });
      continue;
    }
    const parsed = parseOptionText(option, text);
    if (parsed.ok) {
      values[option.key] = parsed.value;
      origins.set(option.key, name);
    } else {
      issues.push({ path: option.key, message: `${parsed.reason} (from ${name})` });
    }
  }
  return layerOf(values, origins, issues);
}

/**
 * Options from parsed command-line flags, keyed by schema name as commander stores them.
 * Text is converted like env text; values already typed (programmatic callers) pass through
 * to the schema, which checks them.
 */
export function readFlagLayer(argv: Record<string, unknown>): Layer {
  const values: Record<string, unknown> = {};
  const origins = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  for (const [key, raw] of Object.entries(argv)) {
    if (raw === undefined) continue;
    const option = optionByKey(key);
    const flag = `--${option?.flag ?? toFlagName(key)}`;
    if (option === undefined) {
      issues.push({ path: flag, message: 'unknown option' });
      continue;
    }
    // A bare boolean flag (`--enable-x`) arrives from commander as `true`.
    const parsed = typeof raw === 'string' ? parseOptionText(option, raw) : { ok: true as const, value: raw };
    if (parsed.ok) {
      values[key] = parsed.value;
      origins.set(key, flag);
    } else {
      issues.push({ path: key, message: `${parsed.reason} (from ${flag})` });
    }
  }
  return layerOf(values, origins, issues);
}
