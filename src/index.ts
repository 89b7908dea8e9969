/**
 * The public API of the `switchboard` package: start a node from your own code.
 *
 *   import { loadConfig, startNode } from 'switchboard';
 *   const node = await startNode(loadConfig({ argv: { port: 6001 } }));
 *
 * Everything else (core, transport, adapters, the bench) is internal and may change without notice.
 */
export { startNode, type RunningNode } from './node.js';
export { loadConfig, type LoadConfigOptions } from './config/load.js';
export { ConfigError, formatConfigError, type ConfigIssue } from './config/errors.js';
export type { AppConfig, Config, ConfigInput } from './config/schema.js';
export { createLogger, type Logger } from './util/logger.js';
