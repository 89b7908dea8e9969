import { ConfigError, formatConfigError } from '../config/errors.js';
import { loadConfig } from '../config/load.js';
import { maskSecrets } from '../config/mask.js';

/** Where `config check` writes and what environment it reads. */
export interface ConfigCheckIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * `switchboard config check`: print the effective config with secrets masked (exit 0),
 * or each invalid field as `path: reason` on stderr (exit 2).
 */
export function runConfigCheck(flags: Record<string, unknown>, io: ConfigCheckIo): number {
  try {
    const config = loadConfig({ argv: flags, env: io.env });
    io.stdout(`${JSON.stringify(maskSecrets(config), null, 2)}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr(`${formatConfigError(err)}\n`);
    return 2;
  }
}
