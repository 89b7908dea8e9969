import { Option, type Command } from 'commander';
import { configOptions, type ConfigOption } from '../config/options.js';

function valuePlaceholder(option: ConfigOption): string {
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

function describe(option: ConfigOption): string {
  const parts: string[] = [];
  if (option.kind === 'json-array') parts.push('a JSON array');
  if (option.defaultValue !== undefined && option.kind !== 'json-array') {
    parts.push(`default ${JSON.stringify(option.defaultValue)}`);
  }
  parts.push(`env ${option.envName}`);
  return parts.join('; ');
}

/**
 * Register `--config <file>` and one flag per schema option on a command. Commander stores
 * each flag under the schema key (`--max-connections` → `maxConnections`), which is what
 * `loadConfig({ argv })` expects. Values stay text here; the loader converts and validates
 * them, so flags, env and file share one set of rules and messages.
 */
export function addConfigOptions(command: Command): Command {
  command.addOption(new Option('--config <file>', 'JSON or YAML config file; env SWITCHBOARD_CONFIG'));
  for (const option of configOptions) {
    command.addOption(new Option(`--${option.flag} ${valuePlaceholder(option)}`, describe(option)));
  }
  return command;
}
