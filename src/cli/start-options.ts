import { Option, type Command } from 'commander';
import { configOptions, type ConfigOption } from '../config/options.js';

/** `<number>`, `[true|false]`, `<local|redis|nats>`...: what a flag's value looks like. */
export function valuePlaceholder(option: ConfigOption): string {
  switch (option.kind) {
    case 'boolean':
      return '[true|false]';
    case 'number':
      return '<number>';
    case 'enum':
      return `<${option.choices?.join('|') ?? 'value'}>`;
    case 'json-array':
      return '<json>';
    case 'string':
      return '<value>';
  }
}

/**
 * A flag's help: the schema's description, then the default and the env name the way
 * commander prints its own, e.g. `... Over it: close 4100. (default: 0, env: SWITCHBOARD_MAX_CONNECTIONS)`.
 * Built here rather than with commander's `.default()`/`.env()`, which would also apply them:
 * defaults and env belong to the config loader, so a flag is present only when typed.
 */
export function optionHelp(option: ConfigOption): string {
  const extras: string[] = [];
  if (option.defaultText !== undefined) extras.push(`default: ${option.defaultText}`);
  extras.push(`env: ${option.envName}`);
  return `${option.description} (${extras.join(', ')})`;
}

/**
 * Register `--config <file>` and one flag per schema option on a command. Commander stores
 * each flag under the schema key (`--max-connections` → `maxConnections`), which is what
 * `loadConfig({ argv })` expects. Values stay text here; the loader converts and validates
 * them, so flags, env and file share one set of rules and messages.
 */
export function addConfigOptions(command: Command): Command {
  command.addOption(new Option('--config <file>', 'JSON or YAML config file with the options below in camelCase (env: SWITCHBOARD_CONFIG)'));
  for (const option of configOptions) {
    command.addOption(new Option(`--${option.flag} ${valuePlaceholder(option)}`, optionHelp(option)));
  }
  return command;
}
