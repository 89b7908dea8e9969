import { readFileSync } from 'node:fs';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { balancerRegistry } from '../../../src/metrics/balancer.js';
// Registers the supervisor's metrics on the balancer's registry (one process: `switchboard cluster`).
import '../../../src/metrics/supervisor.js';
import { configSchema, appSchema } from '../../../src/config/schema.js';
import { limitNames, registry } from '../../../src/metrics/index.js';

// docs/metrics.md is the operator's list of what can be scraped: every metric
// the registries hold must be on it with its type and labels, and nothing else.

interface DocRow {
  name: string;
  type: string;
  labels: string[];
}

const doc = readFileSync(new URL('../../../docs/metrics.md', import.meta.url), 'utf8');

/** Metric rows of the doc's tables, by `## ` section. */
function docRows(): Map<string, DocRow[]> {
  const sections = new Map<string, DocRow[]>();
  let section = '';
  for (const line of doc.split('\n')) {
    if (line.startsWith('## ')) section = line.slice(3).trim();
    const row = /^\| `(switchboard_[a-z_]+)` \| ([a-z]+) \|([^|]*)\|/.exec(line);
    if (row === null) continue;
    const labels = [...(row[3] ?? '').matchAll(/`([a-z_]+)`/g)].map((m) => m[1] as string);
    const rows = sections.get(section) ?? [];
    rows.push({ name: row[1] as string, type: row[2] as string, labels });
    sections.set(section, rows);
  }
  return sections;
}

/** What a registry holds beyond prom-client's default process metrics. */
async function ownMetrics(source: Registry, prefix: string): Promise<DocRow[]> {
  const defaults = new Registry();
  collectDefaultMetrics({ register: defaults, prefix });
  const defaultNames = new Set((await defaults.getMetricsAsJSON()).map((m) => m.name));
  return (await source.getMetricsAsJSON())
    .filter((m) => !defaultNames.has(m.name))
    .map((m) => {
      const metric = source.getSingleMetric(m.name) as unknown as { labelNames: readonly string[] };
      return { name: m.name, type: String(m.type), labels: [...metric.labelNames] };
    });
}

const byName = (a: DocRow, b: DocRow): number => a.name.localeCompare(b.name);

describe('docs/metrics.md', () => {
  const sections = docRows();

  it('lists every node metric, with its type and labels, and no other', async () => {
    const documented = ['Node', 'Webhooks', 'Cluster', 'Monitor'].flatMap((s) => sections.get(s) ?? []);
    expect(documented.sort(byName)).toEqual((await ownMetrics(registry, 'switchboard_')).sort(byName));
  });

  it('lists every balancer metric, with its type and labels, and no other', async () => {
    const documented = sections.get('Balancer') ?? [];
    const own = (await ownMetrics(balancerRegistry, 'switchboard_balancer_')).filter((m) => !m.name.startsWith('switchboard_supervisor_'));
    expect(documented.sort(byName)).toEqual(own.sort(byName));
  });

  it("lists every supervisor metric (served with the balancer's), and no other", async () => {
    const documented = sections.get('Supervisor') ?? [];
    const own = (await ownMetrics(balancerRegistry, 'switchboard_balancer_')).filter((m) => m.name.startsWith('switchboard_supervisor_'));
    expect(own.length).toBeGreaterThan(0);
    expect(documented.sort(byName)).toEqual(own.sort(byName));
  });

  it('has no metric row outside the node, balancer and supervisor sections', () => {
    expect([...sections.keys()].sort()).toEqual(['Balancer', 'Cluster', 'Monitor', 'Node', 'Supervisor', 'Webhooks']);
  });
});

describe('limit names', () => {
  it('docs/metrics.md lists every `limit` label value, and no other', () => {
    const table = doc.slice(doc.indexOf('### `limit` values'), doc.indexOf('## Webhooks'));
    const documented = [...table.matchAll(/^\| `([A-Za-z.]+)` \|/gm)].map((m) => m[1]).filter((name) => name !== 'limit');
    expect(documented.sort()).toEqual([...limitNames].sort());
  });

  it('every max* option of the config schema is a limit that counts its trips', () => {
    // Not a trip: cache channels past maxCachedChannels drop their oldest last event; nobody is refused.
    const notTrips = new Set(['maxCachedChannels']);
    const appOption = (k: string): string => (k in configSchema.shape ? `app.${k}` : k);
    const options = [...Object.keys(configSchema.shape), ...Object.keys(appSchema.shape).map(appOption)];
    const limits = options.filter((k) => /^(app\.)?max[A-Z]/.test(k) && !notTrips.has(k));
    expect(limits.filter((k) => !(limitNames as readonly string[]).includes(k))).toEqual([]);
    expect(limits.length).toBeGreaterThan(10);
  });
});
