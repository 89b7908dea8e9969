import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { diffAgainstBaseline, type FigureDiff } from './baseline.js';
import type { BenchResults } from './results.js';

const require = createRequire(import.meta.url);

async function uplotAssets(): Promise<{ js: string; css: string }> {
  const js = require.resolve('uplot/dist/uPlot.iife.min.js');
  const css = require.resolve('uplot/dist/uPlot.min.css');
  return { js: await readFile(js, 'utf8'), css: await readFile(css, 'utf8') };
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
// JSON inside <script>: `<` is escaped so no value can close the script element.
const scriptJson = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c');

function row(cells: readonly (string | number)[], tag = 'td', cls = ''): string {
  return `<tr${cls ? ` class="${cls}"` : ''}>${cells.map((c) => `<${tag}>${escapeHtml(String(c))}</${tag}>`).join('')}</tr>`;
}

function phasesTable(r: BenchResults): string {
  const head = row(
    ['phase', 'pattern', 'deliv/s', 'expected', 'delivered', 'loss %', 'dup', 'ooo', 'p50 ms', 'p99 ms', 'max ms', 'gen CPU %', 'thresholds'],
    'th',
  );
  const body = [...r.phases, ...(r.phases.length > 1 ? [r.totals] : [])]
    .map((p) => {
      const l = p.latencyMs.count > 0 ? p.latencyMs : p.operationLatencyMs;
      return row(
        [
          p.phase === 0 ? 'total' : p.phase,
          p.pattern,
          p.deliveriesPerSec,
          p.expected,
          p.delivered,
          p.lossPct.toFixed(3),
          p.duplicates,
          p.outOfOrder,
          l.p50,
          l.p99,
          l.max,
          `${p.generatorCpuPct}${p.generatorSaturated ? ' ⚠' : ''}`,
          p.thresholds.length === 0 ? '-' : p.passed ? 'pass' : 'FAIL',
        ],
        'td',
        p.passed ? '' : 'bad',
      );
    })
    .join('');
  return `<table>${head}${body}</table>`;
}

function baselineTable(diffs: FigureDiff[], tolerance: number): string {
  if (diffs.length === 0) return '<p>No figures in common with the baseline.</p>';
  const head = row(['figure', 'baseline', 'current', 'change %', 'better', 'verdict'], 'th');
  const body = diffs
    .map((d) =>
      row([d.figure, d.baseline, d.current, d.changePct, d.better, d.regression ? `REGRESSION (> ${tolerance}%)` : 'ok'], 'td', d.regression ? 'bad' : ''),
    )
    .join('');
  return `<table id="baseline">${head}${body}</table>`;
}

// Drawn in the page: one uPlot per chart from the embedded timeline.
const CHART_SCRIPT = `
const data = JSON.parse(document.getElementById('bench-data').textContent);
const t = data.timeline.map((p) => p.tMs / 1000);
const width = Math.min(1100, document.body.clientWidth - 40);
// A series with its own \`scale\` gets its own axis on the right: publishes/s beside deliveries/s
// (publishes × subscribers) would otherwise lie flat at the bottom of the chart.
function chart(id, title, series) {
  const el = document.getElementById(id);
  const usable = series.filter((s) => s.values.some((v) => v !== null && v !== undefined));
  if (usable.length === 0) { el.textContent = title + ': no data in this run'; return; }
  const own = usable.filter((s) => s.scale !== undefined);
  const scales = { x: { time: false } };
  for (const s of own) scales[s.scale] = { auto: true };
  const axes = [{}, { size: 80 }, ...own.map((s) => ({ scale: s.scale, side: 1, size: 80, stroke: s.color, grid: { show: false }, label: s.label }))];
  new uPlot({ title, width, height: 240, scales, axes,
    series: [{ label: 's' }, ...usable.map((s) => ({ label: s.label, stroke: s.color, width: 2, ...(s.scale !== undefined ? { scale: s.scale } : {}) }))] },
    [t, ...usable.map((s) => s.values.map((v) => (v === undefined ? null : v)))], el);
  el.dataset.drawn = 'true';
  el.dataset.axes = String(axes.length - 1);
}
const col = (k) => data.timeline.map((p) => p[k]);
chart('chart-latency', 'Latency (ms, per second)', [
  { label: 'p50', values: col('p50Ms'), color: '#1f77b4' },
  { label: 'p99', values: col('p99Ms'), color: '#d62728' },
  { label: 'max', values: col('maxMs'), color: '#999' }]);
chart('chart-throughput', 'Throughput (per second)', [
  { label: 'deliveries/s', values: col('deliveriesPerSec'), color: '#2ca02c' },
  { label: 'publishes/s', values: col('publishesPerSec'), color: '#9467bd', scale: 'publishes' }]);
chart('chart-connections', 'Open connections', [{ label: 'connections', values: col('connections'), color: '#ff7f0e' }]);
chart('chart-cpu', 'CPU (% of one core)', [
  { label: 'server', values: col('serverCpuPct'), color: '#d62728' },
  { label: 'busiest generator process', values: col('generatorCpuPct'), color: '#7f7f7f' }]);
chart('chart-memory', 'Server RSS (MiB)', [{ label: 'RSS', values: col('serverRssMiB'), color: '#8c564b' }]);
`;

/** The self-contained HTML report of a run (uPlot inlined), with regressions against `baseline`. */
export async function renderReport(
  results: BenchResults,
  baseline: BenchResults | undefined,
  tolerancePct: number,
): Promise<{ html: string; regressions: number }> {
  const { js, css } = await uplotAssets();
  const diffs = baseline !== undefined ? diffAgainstBaseline(results, baseline, tolerancePct) : [];
  const regressions = diffs.filter((d) => d.regression).length;
  const c = results.connections;
  const s = results.server;
  const title = `switchboard bench ${results.scenario} — ${results.driver} ${results.target.url}`;
  const facts = [
    ['verdict', results.passed ? 'PASS' : 'FAIL'],
    ['command', results.command.join(' ')],
    ['when', `${results.startedAt} → ${results.finishedAt}`],
    [
      'machine',
      `${results.machine.cpuModel} × ${results.machine.cpus}, ${results.machine.memoryGiB} GiB, ${results.machine.platform} ${results.machine.release}, node ${results.machine.node}`,
    ],
    ['connections', `${c.open}/${c.attempted} open, ${c.failed} failed, connect p50 ${c.connectMs.p50} ms p99 ${c.connectMs.p99} ms, ${c.connectsPerSec}/s`],
    ['server', `CPU avg ${s.cpuAvgPct ?? '?'}%, RSS ${s.rssStartMiB ?? '?'} → ${s.rssEndMiB ?? '?'} MiB, ${s.memoryPerConnectionKiB ?? '?'} KiB/connection`],
    [
      'generator',
      `${results.generator.workers} worker(s), busiest process ${results.generator.maxProcessCpuPct}%${results.generator.saturated ? ' ⚠ saturated' : ''}`,
    ],
    ...(results.findMax ? [['find-max', `last good ${results.findMax.lastGoodRate ?? 'none'}/s, first failing ${results.findMax.firstBadRate ?? '-'}/s`]] : []),
    ...results.thresholds.map((t) => [`threshold ${t.threshold}`, `${t.pass ? 'pass' : 'FAIL'} (actual ${t.actual}${t.unit})`]),
  ];
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>${css}
body{font:14px system-ui,sans-serif;margin:20px;color:#222}table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.bad{background:#fde2e2}.chart{margin:10px 0}h1{font-size:20px}</style></head>
<body><h1>${escapeHtml(title)}${results.label ? ` (${escapeHtml(results.label)})` : ''}</h1>
<table id="facts">${facts.map(([k, v]) => row([k ?? '', v ?? ''])).join('')}</table>
<h2>Phases</h2>${phasesTable(results)}
${baseline !== undefined ? `<h2>Against baseline ${escapeHtml(baseline.label ?? baseline.startedAt)} (tolerance ${tolerancePct}%): ${regressions} regression(s)</h2>${baselineTable(diffs, tolerancePct)}` : ''}
<h2>Over time</h2>
<div id="chart-latency" class="chart"></div><div id="chart-throughput" class="chart"></div><div id="chart-connections" class="chart"></div>
<div id="chart-cpu" class="chart"></div><div id="chart-memory" class="chart"></div>
<script id="bench-data" type="application/json">${scriptJson({ timeline: results.timeline })}</script>
<script>${js}</script>
<script>${CHART_SCRIPT}</script>
</body></html>
`;
  return { html, regressions };
}
