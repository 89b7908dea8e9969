import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './k8s.js';

/**
 * No Docker engine runs here, so the image cannot be built in the tests: these are
 * static checks of the Dockerfile (stages, user, dependencies, paths it copies).
 */
const text = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');

interface Instruction {
  op: string;
  args: string;
}
/** Instructions with continuation lines joined and comments dropped. */
const instructions: Instruction[] = text
  .replace(/\\\r?\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'))
  .map((l) => {
    const m = /^(\S+)\s*(.*)$/.exec(l)!;
    return { op: m[1]!.toUpperCase(), args: m[2]! };
  });

/** Split into stages at each FROM. */
const stages: { from: string; name?: string; body: Instruction[] }[] = [];
for (const ins of instructions) {
  if (ins.op === 'FROM') {
    const m = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(ins.args)!;
    stages.push({ from: m[1]!, name: m[2], body: [] });
  } else stages.at(-1)?.body.push(ins);
}
const final = stages.at(-1)!;
const ops = (stage: typeof final, op: string) => stage.body.filter((i) => i.op === op);

describe('Dockerfile', () => {
  it('is multi-stage on Node 20', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s.from).toMatch(/^node:20\b/);
  });

  it('builds with dev dependencies in the first stage', () => {
    const runs = ops(stages[0]!, 'RUN')
      .map((i) => i.args)
      .join('\n');
    expect(runs).toMatch(/npm ci\b(?!.*--omit=dev)/);
    expect(runs).toMatch(/npm run build/);
  });

  it('installs production dependencies only in the final stage and takes dist from the build stage', () => {
    const runs = ops(final, 'RUN').map((i) => i.args);
    const installs = runs.filter((r) => /npm (ci|install|i)\b/.test(r));
    expect(installs.length).toBe(1);
    expect(installs[0]).toMatch(/npm ci --omit=dev/);
    expect(runs.join('\n')).not.toMatch(/npm run build|tsc/);
    const fromBuild = ops(final, 'COPY').filter((c) => c.args.startsWith(`--from=${stages[0]!.name}`));
    expect(fromBuild.map((c) => c.args.split(/\s+/)[1])).toEqual(['/app/dist']);
  });

  it('runs as a non-root user set before CMD', () => {
    const users = ops(final, 'USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)!.args).not.toMatch(/^(root|0)(:|$)/);
    const idx = (op: string) => final.body.findIndex((i) => i.op === op);
    expect(final.body.lastIndexOf(users.at(-1)!)).toBeLessThan(idx('CMD'));
  });

  it('exposes 6001, checks /health, stops with SIGTERM, starts the node', () => {
    expect(ops(final, 'EXPOSE').map((i) => i.args)).toEqual(['6001']);
    expect(ops(final, 'HEALTHCHECK')[0]?.args).toMatch(/\/health/);
    expect(ops(final, 'STOPSIGNAL')[0]?.args).toBe('SIGTERM');
    expect(JSON.parse(ops(final, 'CMD')[0]!.args)).toEqual(['node', 'dist/cli/main.js', 'start']);
  });

  it('copies only paths that exist in the repository and that .dockerignore lets through', () => {
    const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    const sources = stages
      .flatMap((s) => ops(s, 'COPY'))
      .filter((c) => !c.args.startsWith('--from='))
      .flatMap((c) => {
        const parts = c.args.split(/\s+/).filter((p) => !p.startsWith('--'));
        return parts.slice(0, -1);
      });
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) {
      expect(existsSync(join(repoRoot, src)), `${src} exists`).toBe(true);
      expect(
        ignored.some((pattern) => src === pattern || src.startsWith(`${pattern}/`)),
        `${src} is not excluded by .dockerignore`,
      ).toBe(false);
    }
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git']));
  });
});

describe('the runtime image has what dist/ imports', () => {
  it('every package src/ imports at run time is a production dependency (the image omits dev dependencies)', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    const prod = new Set([
      ...Object.keys(pkg.dependencies ?? {}),
      ...Object.keys(pkg.peerDependenciesMeta ?? {}).filter((p) => pkg.peerDependenciesMeta[p].optional),
    ]);
    const files = readdirSync(join(repoRoot, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const missing = new Set<string>();
    for (const f of files) {
      const source = readFileSync(join(repoRoot, 'src', f), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .split('\n')
        .filter((l) => !/^\s*(import|export) type\b/.test(l) && !/^\s*\/\//.test(l))
        .join('\n');
      for (const m of source.matchAll(/\bfrom\s+'([^'.][^']*)'|\bimport\('([^'.][^']*)'\)/g)) {
        const spec = m[1] ?? m[2]!;
        if (spec.startsWith('node:')) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!prod.has(name)) missing.add(`${name} (src/${f})`);
      }
    }
    expect([...missing]).toEqual([]);
  });
});
