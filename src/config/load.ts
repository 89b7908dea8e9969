import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from './errors.js';
import { appSchema, configSchema, type AppConfig, type Config } from './schema.js';
import { readEnvLayer, readFileLayer, readFlagLayer, type Layer } from './sources.js';

export interface LoadConfigOptions {
  /** Parsed command-line flags keyed by option name (commander's `opts()`); `config` is taken as the file path. */
  argv?: Record<string, unknown>;
  /** Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** JSON or YAML file; otherwise `argv.config`, then `SWITCHBOARD_CONFIG`. */
  configPath?: string;
}

/**
 * Build the node's configuration: schema defaults < file < env (SWITCHBOARD_*) < flags,
 * validated once and deep-frozen. Throws a ConfigError listing every problem found.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const { config: configFlag, ...flags } = options.argv ?? {};
  if (configFlag !== undefined && typeof configFlag !== 'string') {
    throw new ConfigError([{ path: '--config', message: 'expected a file path' }]);
  }
  const configPath = options.configPath ?? configFlag ?? env.SWITCHBOARD_CONFIG;

  const layers: Layer[] = [];
  if (configPath !== undefined) layers.push(readFileLayer(configPath));
  layers.push(readEnvLayer(env), readFlagLayer(flags));

  // Layers replace whole top-level values: an `apps` from env replaces the file's list.
  const input: Record<string, unknown> = {};
  const origins = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  for (const layer of layers) {
    Object.assign(input, layer.values);
    for (const [key, origin] of layer.origins) origins.set(key, origin);
    issues.push(...layer.issues);
  }

  // Validate even when a layer failed, so one run reports every problem.
  const result = configSchema.safeParse(input);
  if (!result.success) issues.push(...result.error.issues.flatMap((i) => toConfigIssues(i, origins)));
  if (issues.length > 0 || !result.success) throw new ConfigError(issues);

  return deepFreeze(withSingleApp(result.data));
}

/** `appId/appKey/appSecret` (the schema ensures all three or none) replace `apps` with that one app. */
function withSingleApp(config: z.infer<typeof configSchema>): z.infer<typeof configSchema> {
  if (config.appId === undefined || config.appKey === undefined || config.appSecret === undefined) return config;
  const app = appSchema.safeParse({ id: config.appId, key: config.appKey, secret: config.appSecret });
  if (!app.success) {
    const fieldNames: Record<string, string> = { id: 'appId', key: 'appKey', secret: 'appSecret' };
    throw new ConfigError(
      app.error.issues.map((issue) => ({
        path: fieldNames[String(issue.path[0])] ?? 'appId',
        message: issue.message,
      })),
    );
  }
  const apps: AppConfig[] = [app.data];
  return { ...config, apps };
}

function toConfigIssues(issue: z.core.$ZodIssue, origins: ReadonlyMap<string, string>): ConfigIssue[] {
  const withOrigin = (path: readonly PropertyKey[], message: string): ConfigIssue => {
    const origin = path.length > 0 ? origins.get(String(path[0])) : undefined;
    return {
      path: path.length > 0 ? path.map(String).join('.') : '(root)',
      message: origin === undefined ? message : `${message} (from ${origin})`,
    };
  };
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => withOrigin([...issue.path, key], 'unknown key'));
  }
  return [withOrigin(issue.path, issue.message)];
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
