import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { OPTIONAL_PACKAGES } from '../../src/bench/optional-packages.js';

// The fast half of the install test: every package the shipped code imports at run time must be a
// dependency (or an optional peer loaded through importOptional), or an installed copy breaks.

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const manifest = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
  files: string[];
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Package names a file loads at run time: value imports and dynamic imports, not `import type`. */
function runtimeImports(text: string): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(/^import\s+(?!type\s)[^;]*?from\s+'([^']+)'/gms)) names.push(m[1] ?? '');
  for (const m of text.matchAll(/(?<!typeof )\bimport\(\s*'([^']+)'\s*\)/g)) names.push(m[1] ?? '');
  return names
    .filter((n) => !n.startsWith('.') && !n.startsWith('node:') && !builtinModules.includes(n))
    .map((n) => (n.startsWith('@') ? n.split('/').slice(0, 2).join('/') : (n.split('/')[0] ?? n)));
}

describe('package.json', () => {
  it('lists every package that src/ imports at run time as a dependency', () => {
    const missing: string[] = [];
    for (const file of sourceFiles(join(REPO, 'src'))) {
      for (const name of runtimeImports(readFileSync(file, 'utf8'))) {
        if (manifest.dependencies[name] === undefined) missing.push(`${relative(REPO, file)}: ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('declares the Socket.IO packages as optional peers with the ranges the bench asks for', () => {
    for (const [name, range] of Object.entries(OPTIONAL_PACKAGES)) {
      expect(manifest.peerDependencies[name], name).toBe(range);
      expect(manifest.peerDependenciesMeta[name]?.optional, name).toBe(true);
      // The tests run the socketio driver and reference server, so they are installed for development.
      expect(manifest.devDependencies[name], name).toBe(range);
      expect(manifest.dependencies[name], name).toBeUndefined();
    }
  });

  it('ships the reference servers that `bench compare` starts', () => {
    expect(manifest.files).toEqual(expect.arrayContaining(['dist', 'bench/reference']));
  });
});
