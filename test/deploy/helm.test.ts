import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { appSchema } from '../../src/config/schema.js';
import { configOptions, RESERVED_ENV_NAMES } from '../../src/config/options.js';
import { crossCheck, parseManifests, repoRoot, validateAgainstSchema } from './k8s.js';

const chartDir = join(repoRoot, 'deploy/helm/switchboard');
const templatesDir = join(chartDir, 'templates');
const chart = parse(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8'));
const values = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8'));
const templates = readdirSync(templatesDir)
  .sort()
  .map((f) => ({ file: f, text: readFileSync(join(templatesDir, f), 'utf8') }));
const allText = templates.map((t) => t.text).join('\n');

/**
 * `helm` is not packaged by Debian nor shipped by npm without downloading a binary at
 * install time, so on this machine the chart cannot be rendered; where a `helm` binary is
 * on PATH (CI), the rendered output goes through the same schema and cross-reference checks.
 */
const helm = (process.env.PATH ?? '')
  .split(delimiter)
  .map((d) => join(d, 'helm'))
  .find((p) => existsSync(p));

function has(obj: unknown, path: readonly string[]): boolean {
  let cur: unknown = obj;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object' || !(key in (cur as object))) return false;
    cur = (cur as Record<string, unknown>)[key];
  }
  return true;
}

/** Leaf paths of values.yaml (maps descend; lists and scalars are leaves). */
function leafPaths(obj: Record<string, unknown>, prefix: string[] = []): string[][] {
  return Object.entries(obj).flatMap(([k, v]) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0
      ? leafPaths(v as Record<string, unknown>, [...prefix, k])
      : [[...prefix, k]],
  );
}

const referenced = [...allText.matchAll(/\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)].map((m) => m[1]!.slice(1).split('.'));

describe('deploy/helm/switchboard', () => {
  it('Chart.yaml is a v2 application chart at the package version', () => {
    expect(chart.apiVersion).toBe('v2');
    expect(chart.name).toBe('switchboard');
    expect(chart.type).toBe('application');
    expect(chart.version).toMatch(/^\d+\.\d+\.\d+/);
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    expect(chart.appVersion).toBe(pkg.version);
    expect(values.image.tag).toBe(pkg.version);
  });

  it('every .Values path a template reads exists in values.yaml', () => {
    expect(referenced.length).toBeGreaterThan(10);
    const missing = referenced.filter((p) => !has(values, p)).map((p) => p.join('.'));
    expect(missing).toEqual([]);
  });

  it('every value in values.yaml is read by a template (no dead settings)', () => {
    const used = new Set(referenced.map((p) => p.join('.')));
    const unused = leafPaths(values)
      .map((p) => p.join('.'))
      .filter((p) => ![...used].some((u) => p === u || p.startsWith(`${u}.`)));
    expect(unused).toEqual([]);
  });

  it('template actions are balanced (every if/range/define/with has its end)', () => {
    for (const { file, text } of templates) {
      expect(text.split('{{').length, `${file}: {{ vs }}`).toBe(text.split('}}').length);
      const opens = [...text.matchAll(/\{\{-?\s*(if|range|define|with)\b/g)].length;
      const ends = [...text.matchAll(/\{\{-?\s*end\b/g)].length;
      expect(ends, `${file}: if/range/define/with vs end`).toBe(opens);
    }
  });

  it('templates hold the same kinds as deploy/kubernetes', () => {
    const kinds = [...allText.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]).sort();
    expect(kinds).toEqual(['Deployment', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Secret', 'Service', 'Service']);
  });

  it('every SWITCHBOARD_* name in the templates and extraEnv is a real option', () => {
    const envNames = new Set([...configOptions.map((o) => o.envName), ...RESERVED_ENV_NAMES]);
    const names = [...new Set([...allText.matchAll(/SWITCHBOARD_[A-Z0-9_]+/g)].map((m) => m[0]))];
    expect(names.length).toBeGreaterThan(5);
    expect(names.filter((n) => !envNames.has(n))).toEqual([]);
    expect(Object.keys(values.extraEnv ?? {}).filter((n) => !envNames.has(n))).toEqual([]);
    const command = /command: \[("node".*)\]$/m.exec(templates.find((t) => t.file === 'deployment.yaml')!.text)![1]!;
    const flags = [...command.matchAll(/"--([a-z-]+)"/g)].map((m) => m[1]);
    expect(flags).toContain('adapter');
    expect(flags.filter((f) => !configOptions.some((o) => o.flag === f))).toEqual([]);
  });

  it('values: apps are valid apps, the adapter and drain are real settings', () => {
    for (const app of values.apps) expect(appSchema.safeParse(app).success).toBe(true);
    expect(configOptions.find((o) => o.key === 'adapter')!.choices).toContain(values.adapter);
    expect(values.terminationMarginSeconds).toBeGreaterThanOrEqual(5);
    expect(values.drainSeconds).toBe(configOptions.find((o) => o.key === 'drainSeconds')!.defaultValue);
  });

  it.skipIf(helm === undefined)('helm template renders objects that pass the Kubernetes schemas and cross-checks (skipped: no helm binary on PATH)', () => {
    for (const set of [[], ['--set', 'hpa.enabled=false,pdb.enabled=false'], ['--set', 'redis.enabled=false,redis.url=redis://r:6379']]) {
      const out = execFileSync(helm!, ['template', 'test', chartDir, ...set], { encoding: 'utf8' });
      const objects = parseManifests(out, 'helm template');
      for (const o of objects) expect(() => validateAgainstSchema(o), `${o.kind} ${o.metadata.name}`).not.toThrow();
      expect(crossCheck(objects, 'test-switchboard')).toEqual([]);
    }
  });
});
