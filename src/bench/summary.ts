import type { BenchResults, PhaseResult } from './results.js';

/** Render rows as an aligned plain-text table. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const codes = (counts: Record<string, number>): string =>
  Object.entries(counts)
    .map(([code, n]) => `${code}×${n}`)
    .join(' ') || '-';

function phaseRow(p: PhaseResult, primary: 'delivery' | 'operation'): string[] {
  const l = primary === 'delivery' ? p.latencyMs : p.operationLatencyMs;
  return [
    p.phase === 0 ? 'total' : String(p.phase),
    p.pattern,
    String(p.deliveriesPerSec),
    `${p.loss} (${p.lossPct.toFixed(3)}%)`,
    String(p.duplicates),
    String(p.outOfOrder),
    String(l.p50),
    String(l.p90),
    String(l.p99),
    String(l.max),
    `${p.generatorCpuPct}%${p.generatorSaturated ? ' ⚠' : ''}`,
    p.thresholds.length === 0 ? '-' : p.passed ? 'pass' : 'FAIL',
  ];
}

/** The end-of-run summary a person reads in the terminal. */
export function formatSummary(r: BenchResults): string {
  const out: string[] = [];
  const primary = r.phases.some((p) => p.latencyMs.count > 0) || r.scenario === 'fanout' || r.scenario === 'chat' ? 'delivery' : 'operation';
  out.push(`switchboard bench ${r.scenario} — ${r.driver} ${r.target.url}${r.label ? ` (${r.label})` : ''}`);
  const c = r.connections;
  out.push(
    `connections: ${c.open}/${c.attempted} open, ${c.failed} failed [${codes(c.errorsByCode)}], connect p50 ${c.connectMs.p50} ms p99 ${c.connectMs.p99} ms max ${c.connectMs.max} ms, ${c.connectsPerSec}/s; closes [${codes(c.closesByCode)}]`,
  );
  // `connections` measures opening; its hold phase has no deliveries to tabulate.
  if (r.scenario !== 'connections') {
    const latencyLabel = primary === 'delivery' ? 'delivery latency' : 'operation latency';
    out.push('');
    out.push(
      table(
        ['phase', 'pattern', 'deliv/s', 'loss', 'dup', 'ooo', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'gen cpu', 'thresholds'],
        [...r.phases.map((p) => phaseRow(p, primary)), ...(r.phases.length > 1 ? [phaseRow(r.totals, primary)] : [])],
      ),
    );
    out.push(`(${latencyLabel} from the scheduled send time)`);
  }
  const t = r.totals;
  if (t.published + t.publishErrors > 0) out.push(`publishes: ${t.published} ok, ${t.publishErrors} failed; publisher lag max ${t.publisherLagMaxMs} ms`);
  if (t.clientEvents > 0) out.push(`client events sent: ${t.clientEvents}`);
  if (t.operations > 0)
    out.push(`operations: ${t.operations}, errors [${codes(t.operationErrors)}], p50 ${t.operationLatencyMs.p50} ms p99 ${t.operationLatencyMs.p99} ms`);
  const s = r.server;
  const serverBits = [
    s.cpuAvgPct !== undefined ? `CPU avg ${s.cpuAvgPct}%` : undefined,
    s.rssStartMiB !== undefined ? `RSS ${s.rssStartMiB} → ${s.rssEndMiB ?? '?'} MiB (peak ${s.rssPeakMiB ?? '?'})` : undefined,
    s.memoryPerConnectionKiB !== undefined ? `${s.memoryPerConnectionKiB} KiB/connection` : undefined,
    s.rssGrowthMiBPerHour !== undefined && r.scenario === 'soak' ? `RSS growth ${s.rssGrowthMiBPerHour} MiB/h` : undefined,
  ].filter((b) => b !== undefined);
  out.push(`server: ${serverBits.length > 0 ? serverBits.join(', ') : 'no figures (give --server-pid or a target with /metrics)'}`);
  if (r.generator.saturated) out.push(`⚠ generator saturated (${r.generator.maxProcessCpuPct}% of a core): ${r.generator.note ?? ''}`);
  if (r.findMax)
    out.push(
      `find-max: last good rate ${r.findMax.lastGoodRate ?? 'none'}/s${r.findMax.firstBadRate !== null ? `, first failing ${r.findMax.firstBadRate}/s` : ''}`,
    );
  for (const th of r.thresholds) out.push(`${th.pass ? '✓' : '✗'} ${th.threshold}  (actual ${th.actual}${th.unit})`);
  out.push(r.passed ? 'PASS' : 'FAIL');
  return out.join('\n');
}
