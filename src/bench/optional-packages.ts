import { createRequire } from 'node:module';
import { SwitchboardBenchUsageError } from './errors.js';

/**
 * The packages only the Socket.IO comparison needs, with the ranges of `peerDependencies` in
 * package.json (a test checks). They are optional peers, not installed with switchboard: a Pusher
 * server has no use for a Socket.IO server and client in production, and the bench's Pusher and raw
 * `ws` paths never load them.
 */
export const OPTIONAL_PACKAGES = {
  'socket.io-client': '^4.8.4',
  'socket.io': '^4.8.4',
} as const;

export type OptionalPackage = keyof typeof OPTIONAL_PACKAGES;

const require = createRequire(import.meta.url);

function missingError(purpose: string, names: readonly OptionalPackage[]): SwitchboardBenchUsageError {
  const list = names.join(' and ');
  const install = names.map((name) => `${name}@${OPTIONAL_PACKAGES[name]}`).join(' ');
  return new SwitchboardBenchUsageError(
    `${purpose} needs ${names.length > 1 ? 'the packages' : 'the package'} ${list}, not installed with switchboard: npm install ${install}`,
  );
}

// Only the package itself missing; a broken install of it (a dependency of its own gone) is rethrown.
function isNotFound(err: unknown, name: string): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && typeof message === 'string' && message.includes(`'${name}'`);
}

/** Throw one usage error naming every package of `names` that does not resolve from switchboard. */
export function requireInstalled(purpose: string, names: readonly OptionalPackage[]): void {
  const missing = names.filter((name) => {
    try {
      require.resolve(name);
      return false;
    } catch (err) {
      if (isNotFound(err, name)) return true;
      throw err;
    }
  });
  if (missing.length > 0) throw missingError(purpose, missing);
}

/** Import an optional package, or throw a usage error naming the package to install. */
export async function importOptional<T>(purpose: string, name: OptionalPackage): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (err) {
    if (isNotFound(err, name)) throw missingError(purpose, [name]);
    throw err;
  }
}
