export { configSchema, appSchema, logLevels, type Config, type ConfigInput, type AppConfig } from './schema.js';
export { loadConfig, type LoadConfigOptions } from './load.js';
export { ConfigError, formatConfigError, type ConfigIssue } from './errors.js';
export { maskSecrets } from './mask.js';
export { usesDevelopmentApp, DEVELOPMENT_APP_WARNING } from './development-app.js';
export { configOptions, RESERVED_ENV_NAMES, type ConfigOption, type OptionKind } from './options.js';
