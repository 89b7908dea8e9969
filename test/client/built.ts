import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The client package's build output, for the tests that run it as users get it.
export const CLIENT_DIR = fileURLToPath(new URL('../../packages/client/', import.meta.url));
/** The core's budget, min + gzip (pusher-js 8 is 17.8 KB). */
export const CORE_BUDGET_BYTES = 15 * 1024;

function newest(dir: string): number {
  return Math.max(...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
}

/** The client's dist, or a clear failure when it is missing or older than its sources. */
export function builtClient(file: string): string {
  const path = join(CLIENT_DIR, 'dist', file);
  if (!existsSync(path) || statSync(path).mtimeMs < newest(join(CLIENT_DIR, 'src')))
    throw new Error(`${path} is missing or older than packages/client/src: run \`npm run build:client\` (npm test does)`);
  return path;
}
