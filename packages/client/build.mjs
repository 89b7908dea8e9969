// Builds the client: ESM and CJS for Node and bundlers, an ESM for browsers, a minified IIFE for
// <script> tags, and the type declarations. esbuild bundles each entry into one file.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
rmSync(dist, { recursive: true, force: true });

// Browser builds never load `ws`: the module that would is swapped for one that returns null.
const browserWebSocket = {
  name: 'browser-websocket',
  setup(b) {
    b.onResolve({ filter: /\/node-websocket\.js$/ }, () => ({ path: join(here, 'src/browser-websocket.ts') }));
  },
};

// The Echo entry uses the package's own client build, so that an app importing both gets one class.
const ownClient = (file) => ({
  name: 'own-client',
  setup(b) {
    b.onResolve({ filter: /^\.\/client\.js$/ }, (args) => (args.importer.endsWith('echo.ts') ? { path: file, external: true } : undefined));
  },
});

const common = { bundle: true, sourcemap: true, target: 'es2020', external: ['ws'], legalComments: 'none', logLevel: 'warning', absWorkingDir: here };

await Promise.all([
  build({ ...common, entryPoints: ['src/index.ts'], format: 'esm', platform: 'neutral', outfile: 'dist/index.js' }),
  build({ ...common, entryPoints: ['src/index.ts'], format: 'cjs', platform: 'node', outfile: 'dist/index.cjs' }),
  build({ ...common, entryPoints: ['src/index.ts'], format: 'esm', platform: 'browser', outfile: 'dist/index.browser.js', plugins: [browserWebSocket] }),
  build({ ...common, entryPoints: ['src/echo.ts'], format: 'esm', platform: 'neutral', outfile: 'dist/echo.js', plugins: [ownClient('./index.js')] }),
  build({ ...common, entryPoints: ['src/echo.ts'], format: 'cjs', platform: 'node', outfile: 'dist/echo.cjs', plugins: [ownClient('./index.cjs')] }),
  // The script-tag build of the core (what the size budget measures), and one with the Echo connector.
  build({ ...common, entryPoints: ['src/iife-core.ts'], format: 'iife', platform: 'browser', minify: true, outfile: 'dist/switchboard.min.js', plugins: [browserWebSocket] }),
  build({ ...common, entryPoints: ['src/iife.ts'], format: 'iife', platform: 'browser', minify: true, outfile: 'dist/switchboard-echo.min.js', plugins: [browserWebSocket] }),
]);

execFileSync(process.execPath, [createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-p', join(here, 'tsconfig.json')], { stdio: 'inherit' });
