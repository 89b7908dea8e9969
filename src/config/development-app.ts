import type { Config } from './schema.js';

// The credentials of the schema's built-in app. They are published in the README, so a
// node that accepts them accepts anyone.
const DEVELOPMENT_KEY = 'app-key';
const DEVELOPMENT_SECRET = 'app-secret';

export const DEVELOPMENT_APP_WARNING =
  'using the built-in development app (app-id / app-key / app-secret): these credentials are public, ' +
  'for development only; configure your own apps (--apps, SWITCHBOARD_APPS, --app-id/--app-key/--app-secret or a config file)';

/** True when the node would accept the well-known development credentials. */
export function usesDevelopmentApp(config: Pick<Config, 'apps'> & Partial<Pick<Config, 'appStore'>>): boolean {
  // A database store serves its own apps: the config's (default) apps are not used.
  if (config.appStore !== undefined && config.appStore !== 'static') return false;
  return config.apps.some((app) => app.key === DEVELOPMENT_KEY && app.secret === DEVELOPMENT_SECRET);
}
