import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { balancerRegistry } from '../../src/metrics/balancer.js';
import { registry } from '../../src/metrics/index.js';
import { repoRoot } from './k8s.js';

const dashboardPath = join(repoRoot, 'deploy/grafana/switchboard-dashboard.json');
const rulesPath = join(repoRoot, 'deploy/grafana/alert-rules.yaml');

interface Target {
  refId?: string;
  expr?: string;
  datasource?: unknown;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  gridPos?: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query?: string | { query?: string };
  datasource?: unknown;
}
interface Dashboard {
  schemaVersion: number;
  uid: string;
  panels: Panel[];
  templating: { list: Variable[] };
}
interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Rules {
  groups: { name: string; rules: Rule[] }[];
}

const dashboard = JSON.parse(readFileSync(dashboardPath, 'utf8')) as Dashboard;
const rules = parse(readFileSync(rulesPath, 'utf8')) as Rules;

/** Every panel, rows and their nested panels included. */
function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}
const panels = allPanels(dashboard.panels);

// ---- a small PromQL tokenizer: metric names, matcher labels and grouping labels of one expression ----

/** PromQL words that are not metric names when not followed by `(`. */
const keywords = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'and',
  'or',
  'unless',
  'inf',
  'nan',
  'start',
  'end',
]);
const grouping = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
/** Aggregation operators, which may be followed by `by (...)` / `without (...)` rather than `(`. */
const aggregations = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);

export interface Uses {
  metrics: string[];
  /** `{label op "value"}` matchers, with the selector's metric. */
  matchers: { metric: string | undefined; label: string }[];
  /** labels of `by (...)`, `without (...)`, `on (...)`, `ignoring (...)`, `group_left/right (...)`. */
  groupLabels: string[];
}

export function promqlUses(expr: string): Uses {
  const cleaned = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // string literals (label values)
    .replace(/\[[^\]]*\]/g, ' ') // range and subquery selectors: [5m], [$__rate_interval], [1h:5m]
    .replace(/\$\{?\w+(?::\w+)?\}?/g, ' '); // Grafana variables outside strings
  const tokens = cleaned.match(/[A-Za-z_:][A-Za-z0-9_:]*|\d[\w.]*|=~|!~|!=|==|>=|<=|\S/g) ?? [];
  const uses: Uses = { metrics: [], matchers: [], groupLabels: [] };
  let depth = 0;
  let selector: string | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const next = tokens[i + 1];
    if (t === '{') {
      depth++;
      const prev = tokens[i - 1];
      selector = prev !== undefined && uses.metrics.at(-1) === prev ? prev : undefined;
      continue;
    }
    if (t === '}') {
      depth--;
      continue;
    }
    if (!/^[A-Za-z_:]/.test(t)) continue;
    if (depth > 0) {
      if (next !== undefined && ['=', '!=', '=~', '!~'].includes(next)) uses.matchers.push({ metric: selector, label: t });
      continue;
    }
    if (grouping.has(t) && next === '(') {
      let j = i + 2;
      for (; j < tokens.length && tokens[j] !== ')'; j++) if (tokens[j] !== ',') uses.groupLabels.push(tokens[j]!);
      i = j;
      continue;
    }
    if (next === '(' || keywords.has(t)) continue; // a function or aggregation, or a keyword
    if (aggregations.has(t) && (next === 'by' || next === 'without')) continue;
    uses.metrics.push(t);
  }
  expect(depth, `unbalanced braces in ${expr}`).toBe(0);
  return uses;
}

// ---- what the registries export ----

/** Labels Prometheus puts on every series of a target (`instance`, `job`) or Kubernetes relabelling adds. */
const targetLabels = new Set(['instance', 'job', 'pod', 'namespace']);

interface Known {
  type: string;
  labels: Set<string>;
}

async function known(): Promise<Map<string, Known>> {
  const out = new Map<string, Known>();
  for (const reg of [registry, balancerRegistry]) {
    for (const m of await reg.getMetricsAsJSON()) {
      const labelNames = (reg.getSingleMetric(m.name) as unknown as { labelNames?: readonly string[] } | undefined)?.labelNames ?? [];
      out.set(m.name, { type: String(m.type), labels: new Set(labelNames) });
    }
  }
  // `up` is Prometheus' own per-target series: only target labels.
  out.set('up', { type: 'gauge', labels: new Set() });
  return out;
}
const registries = await known();

/** The registry's metric behind a series name (`x_bucket`/`x_sum`/`x_count` of histogram x), and its labels. */
function resolve(series: string): { name: string; labels: Set<string> } | undefined {
  const direct = registries.get(series);
  if (direct !== undefined) return { name: series, labels: direct.labels };
  const m = /^(.+)_(bucket|sum|count)$/.exec(series);
  const base = m ? registries.get(m[1]!) : undefined;
  if (m === null || base === undefined || !['histogram', 'summary'].includes(base.type)) return undefined;
  const labels = new Set(base.labels);
  if (m[2] === 'bucket') labels.add('le');
  if (base.type === 'summary' && m[2] === 'bucket') return undefined;
  return { name: m[1]!, labels };
}

/** Problems with one expression: unknown metrics, labels a metric does not have. */
export function problems(expr: string): string[] {
  const out: string[] = [];
  const uses = promqlUses(expr);
  if (uses.metrics.length === 0) out.push(`no metric in ${expr}`);
  const resolved = new Map<string, Set<string>>();
  for (const s of uses.metrics) {
    const r = resolve(s);
    if (r === undefined) out.push(`unknown metric ${s}`);
    else resolved.set(s, r.labels);
  }
  for (const { metric, label } of uses.matchers) {
    if (targetLabels.has(label) || metric === undefined) continue;
    const labels = resolved.get(metric);
    if (labels !== undefined && !labels.has(label)) out.push(`${metric} has no label ${label}`);
  }
  // Grouping labels are held to every metric of the expression (all of them here are single-family).
  for (const label of uses.groupLabels) {
    if (targetLabels.has(label)) continue;
    for (const [metric, labels] of resolved) if (!labels.has(label)) out.push(`${metric} has no label ${label} (grouped by)`);
  }
  return out;
}

const panelExprs = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel ${p.id} "${p.title}" ${t.refId}`, expr: t.expr ?? '' })));
/** `label_values(selector, label)` of the query variables, as an expression and a label. */
const variableQueries = dashboard.templating.list
  .filter((v) => v.type === 'query')
  .map((v) => {
    const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
    const m = /^label_values\((.+),\s*(\w+)\)$/.exec(q);
    expect(m, `variable ${v.name}: ${q}`).not.toBeNull();
    return { name: v.name, selector: m![1]!, label: m![2]! };
  });
const ruleList = rules.groups.flatMap((g) => g.rules.map((r) => ({ group: g.name, ...r })));

describe('the PromQL tokenizer', () => {
  it('finds metrics, matcher labels and grouping labels, not functions, keywords or durations', () => {
    const u = promqlUses(
      'max without (pod) (d) + histogram_quantile(0.99, sum by (le, instance) (rate(a_bucket{job="x", kind=~"$k"}[$__rate_interval]))) > 0.1 and on (instance) b offset 5m / ignoring(code) c{}',
    );
    expect(u.metrics).toEqual(['d', 'a_bucket', 'b', 'c']);
    expect(u.matchers).toEqual([
      { metric: 'a_bucket', label: 'job' },
      { metric: 'a_bucket', label: 'kind' },
    ]);
    expect(u.groupLabels).toEqual(['pod', 'le', 'instance', 'instance', 'code']);
    expect(promqlUses('sum(rate(x_total[5m])) by (reason) > bool 0').groupLabels).toEqual(['reason']);
  });

  it('catches a misspelt metric, a label the metric lacks and a histogram suffix on a counter', () => {
    expect(problems('sum(rate(switchboard_ws_mesages_sent_total[5m]))')).toEqual(['unknown metric switchboard_ws_mesages_sent_total']);
    expect(problems('sum by (app_id) (rate(switchboard_disconnections_total{code="4200"}[5m]))')).toEqual([
      'switchboard_disconnections_total has no label app_id (grouped by)',
    ]);
    expect(problems('switchboard_limit_trips_total{reason="x"}')).toEqual(['switchboard_limit_trips_total has no label reason']);
    expect(problems('switchboard_ws_messages_sent_total_bucket')).toEqual(['unknown metric switchboard_ws_messages_sent_total_bucket']);
    expect(problems('rate(switchboard_publish_to_write_seconds_bucket{le="0.1"}[5m])')).toEqual([]);
  });
});

describe('deploy/grafana/switchboard-dashboard.json', () => {
  it('is a schemaVersion 39 dashboard with a Prometheus datasource variable and a node (instance) variable', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.uid).toBe('switchboard');
    const vars = new Map(dashboard.templating.list.map((v) => [v.name, v]));
    expect(vars.get('datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(vars.get('instance')?.type).toBe('query');
  });

  it('has unique panel ids, a datasource on every panel and target, and panels inside the 24-column grid', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      expect(p.datasource, `panel ${p.id} ${p.title}`).toEqual({ type: 'prometheus', uid: '${datasource}' });
      for (const t of p.targets ?? []) expect(t.datasource, `panel ${p.id} ${t.refId}`).toEqual(p.datasource);
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, `panel ${p.id} refIds`).toBe(refIds.length);
      expect(p.gridPos!.x + p.gridPos!.w, `panel ${p.id} width`).toBeLessThanOrEqual(24);
      if (p.type !== 'row') expect(p.targets?.length, `panel ${p.id} has queries`).toBeGreaterThan(0);
    }
  });

  it('has the rows of docs/deploy.md', () => {
    expect(panels.filter((p) => p.type === 'row').map((p) => p.title)).toEqual([
      'Overview',
      'Connections',
      'Messages',
      'Latency',
      'Cluster links',
      'Webhooks',
      'Limits and errors',
      'Balancer',
      'Monitor',
      'History',
      'App store',
    ]);
  });

  it('uses only metrics and labels the node and balancer registries export', () => {
    const found = panelExprs.flatMap(({ where, expr }) => problems(expr).map((p) => `${where}: ${p}`));
    expect(found).toEqual([]);
    for (const v of variableQueries) {
      expect(problems(v.selector), `variable ${v.name}`).toEqual([]);
      const [metric] = promqlUses(v.selector).metrics;
      expect(targetLabels.has(v.label) || resolve(metric!)!.labels.has(v.label), `variable ${v.name} label ${v.label}`).toBe(true);
    }
  });

  it('references only defined variables (or Grafana built-ins)', () => {
    const defined = new Set(dashboard.templating.list.map((v) => v.name));
    for (const { where, expr } of panelExprs) {
      for (const [, name] of expr.matchAll(/\$\{?(\w+)/g)) expect(name!.startsWith('__') || defined.has(name!), `${where}: $${name}`).toBe(true);
    }
  });

  it('uses every metric of both registries except the default process metrics and the ones listed here', () => {
    const used = new Set(
      [...panelExprs.map((p) => p.expr), ...variableQueries.map((v) => v.selector)].flatMap((e) => promqlUses(e).metrics.map((s) => resolve(s)!.name)),
    );
    const unused = [...registries.keys()].filter((n) => n !== 'up' && !used.has(n) && !/^switchboard_(balancer_)?(process|nodejs)_/.test(n));
    expect(unused).toEqual([]);
  });
});

describe('deploy/grafana/alert-rules.yaml', () => {
  it('has groups of alerts with expr, for (where sensible), a severity and a summary', () => {
    expect(ruleList.length).toBeGreaterThan(0);
    const names = ruleList.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const r of ruleList) {
      expect(r.alert, `${r.group}`).toMatch(/^Switchboard[A-Za-z0-9]+$/);
      expect(typeof r.expr).toBe('string');
      if (r.for !== undefined) expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning', 'info'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
    }
  });

  it('covers node down, slow consumers, dead letters, queue depth, skipped cluster messages, link flapping and publish-to-write p99', () => {
    const all = ruleList.map((r) => r.expr).join('\n');
    expect(all).toMatch(/up\{job="switchboard"\} == 0/);
    for (const m of [
      'switchboard_limit_trips_total',
      'switchboard_webhook_dead_lettered_total',
      'switchboard_webhook_queue_depth',
      'switchboard_cluster_messages_skipped_total',
      'switchboard_cluster_link_state_changes_total',
      'switchboard_publish_to_write_seconds_bucket',
    ])
      expect(all).toContain(m);
  });

  it('uses only metrics and labels the node and balancer registries export', () => {
    const found = ruleList.flatMap((r) => problems(r.expr).map((p) => `${r.alert}: ${p}`));
    expect(found).toEqual([]);
  });
});
