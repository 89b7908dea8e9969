#!/usr/bin/env node
// npm run bench:balancer — what a proxy in front of a node costs, with the
// product's own load tester (`switchboard bench`). Three paths, each against
// a fresh node (`switchboard start`, local adapter):
//   direct   — clients and publishes straight to the node;
//   balance  — through `switchboard balance` (least-connections);
//   haproxy  — through HAProxy with the config `balance --print-haproxy` renders
//              (leastconn, checks on /ready, tunnel timeout); skipped, saying
//              why, when `haproxy` is not on PATH.
// Per path three tests:
//   fan-out     — --subscribers clients on one channel, --rate publishes/s through the
//                 path's HTTP side (1,000 × 50 = 50,000 deliveries/s by default):
//                 delivered/s, p50/p99, the proxy's CPU-s per million deliveries
//                 and how much of it is kernel time (the read and the write per frame);
//   hop         — --hop-subscribers × --hop-rate, a fan-out small enough that no
//                 process queues a burst: what one more hop adds to a message;
//   connections — --connections WebSocket connects, --connect-repeats times on the
//                 same node and proxy: the median connect rate, and the proxy's
//                 CPU per connect over all of them.
// CPU layouts (taskset, when present), --layout:
//   own-core — the node and the load generator share CPU 0, the proxy has CPU 1 to
//              itself, as a proxy on its own machine or core would (the direct
//              path uses the same CPU 0 for node and generator);
//   shared   — the node on CPU 0, the proxy and the generator share CPU 1: every
//              microsecond the proxy spends is taken from the generator, so the
//              connect rate measures proxy + generator CPU, not the proxy alone;
//   both     — (default) each round runs both.
// A figure from one run is noisy on two cores: --rounds (default 3) repeats
// every path in turn (direct, balance, haproxy, per layout) and the summary
// gives medians over rounds, each "added" and "×" figure taken against the
// same round's direct path (or HAProxy row) first. The summary ends with
// the issue's targets met or not, per layout.
// Results: results/bench-balancer-<time>.json.
//
//   node bench/balancer.mjs [--rounds 3] [--layout both|own-core|shared] [--subscribers 1000] [--rate 50]
//                           [--duration 10s] [--connections 2000] [--connect-repeats 3]
//                           [--hop-subscribers 20] [--hop-rate 50]
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, cpuTimes, freePort, hasTaskset, median as medianOf, options, pinned, requireBuild, round, startNode, startProcess } from './lib.mjs';

const opts = options({
  rounds: 3,
  layout: 'both',
  subscribers: 1000,
  rate: 50,
  duration: '10s',
  connections: 2000,
  'connect-repeats': 3,
  'hop-subscribers': 20,
  'hop-rate': 50,
});
const LAYOUTS = {
  'own-core': { node: '0', proxy: '1', generator: '0' },
  shared: { node: '0', proxy: '1', generator: '1' },
};
const layouts = opts.layout === 'both' ? Object.keys(LAYOUTS) : [opts.layout];
if (!layouts.every((l) => l in LAYOUTS)) {
  console.error(`--layout: both, own-core or shared, not ${opts.layout}`);
  process.exit(2);
}
if (!Number.isInteger(opts['connect-repeats']) || opts['connect-repeats'] < 1) {
  console.error(`--connect-repeats: a whole number, at least 1, not ${opts['connect-repeats']}`);
  process.exit(2);
}
requireBuild();

const haproxyPath = (() => {
  try {
    return execFileSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
})();

async function waitHttp(url, child, what) {
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const up = await fetch(url).then(
      (r) => r.status < 500,
      () => false,
    );
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start`);
}

async function startBalance(nodePort, cpus) {
  const [cmd, ...args] = pinned(cpus.proxy, [
    process.execPath,
    CLI,
    'balance',
    '--host',
    '127.0.0.1',
    '--listen',
    '0',
    '--backend',
    `127.0.0.1:${nodePort}`,
    '--algorithm',
    'least-connections',
    '--log-level',
    'info',
  ]);
  const { child, line } = await startProcess(cmd, args, /"msg":"switchboard balancer listening"/);
  const { port } = JSON.parse(line);
  // Until the first checks pass it routes in panic mode; wait for a clean state.
  for (let i = 0; i < 50; i++) {
    const body = await fetch(`http://127.0.0.1:${port}/balancer`).then((r) => r.json());
    if (body.backends.every((b) => b.state === 'up')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, port };
}

async function startHaproxy(nodePort, cpus) {
  const port = await freePort();
  const cfg = execFileSync(
    process.execPath,
    [
      CLI,
      'balance',
      '--host',
      '127.0.0.1',
      '--listen',
      String(port),
      '--backend',
      `127.0.0.1:${nodePort}`,
      '--algorithm',
      'least-connections',
      '--print-haproxy',
    ],
    { encoding: 'utf8' },
  );
  const file = join(tmpdir(), `sb-bench-haproxy-${process.pid}.cfg`);
  writeFileSync(file, cfg);
  const [cmd, ...args] = pinned(cpus.proxy, [haproxyPath, '-db', '-f', file]);
  // HAProxy in the foreground prints nothing when it starts well: the ready signal is its /ready answering.
  const { child } = await startProcess('sh', ['-c', 'echo started; exec "$@"', 'sh', cmd, ...args], /^started$/);
  await waitHttp(`http://127.0.0.1:${port}/ready`, child, 'haproxy');
  return { child, port };
}

function bench(cpus, scenario, args, out) {
  const [cmd, ...rest] = pinned(cpus.generator, [process.execPath, CLI, 'bench', scenario, ...args, '--workers', '1', '--quiet', '--out', out]);
  execFileSync(cmd, rest, { stdio: ['ignore', 'ignore', 'inherit'] });
  return JSON.parse(readFileSync(out, 'utf8'));
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const dir = new URL('../results/', import.meta.url).pathname;
mkdirSync(dir, { recursive: true });

const paths = [
  { name: 'direct', start: null },
  { name: 'balance', start: startBalance },
  { name: 'haproxy', start: haproxyPath === null ? 'haproxy is not on PATH (apt-get install -y haproxy)' : startHaproxy },
];

/** One path's three tests in one layout: a fresh node (and proxy) for them. */
async function measure(path, layout, roundNo) {
  const cpus = LAYOUTS[layout];
  const node = await startNode([], { cpus: cpus.node });
  let proxy = null;
  try {
    proxy = path.start === null ? null : await path.start(node.port, cpus);
    const port = proxy?.port ?? node.port;
    const common = [
      '--url',
      `ws://127.0.0.1:${port}`,
      '--http-url',
      `http://127.0.0.1:${port}`,
      '--metrics-url',
      `http://127.0.0.1:${node.port}/metrics`,
      '--server-pid',
      String(node.pid),
    ];
    const out = (test) => `${dir}bench-balancer-${stamp}-${layout}-${roundNo}-${path.name}-${test}.json`;
    // Warm-up, not recorded: a fresh Node proxy would spend the first seconds of the first test compiling (HAProxy has no JIT).
    if (proxy !== null) {
      bench(cpus, 'fanout', [...common, '--subscribers', '20', '--rate', '50', '--duration', '2s'], out('warm-up'));
      bench(cpus, 'connections', [...common, '--connections', '300', '--rate', '1000', '--duration', '1s'], out('warm-up'));
    }
    const proxyTimes = () => (proxy === null ? { user: 0, system: 0 } : cpuTimes(proxy.child.pid));
    const proxyCpu = () => {
      const { user, system } = proxyTimes();
      return user + system;
    };
    const fanoutBefore = proxyTimes();
    const fanout = bench(
      cpus,
      'fanout',
      [...common, '--subscribers', String(opts.subscribers), '--rate', String(opts.rate), '--duration', opts.duration],
      out('fanout'),
    );
    const fanoutAfter = proxyTimes();
    const fanoutCpu = fanoutAfter.user + fanoutAfter.system - fanoutBefore.user - fanoutBefore.system;
    const fanoutKernel = fanoutAfter.system - fanoutBefore.system;
    const hop = bench(
      cpus,
      'fanout',
      [...common, '--subscribers', String(opts['hop-subscribers']), '--rate', String(opts['hop-rate']), '--duration', opts.duration],
      out('hop'),
    );
    // The connect rate swings ±25% between runs on one node (its CPU per connect does), so
    // each path runs the test --connect-repeats times and keeps the median rate.
    const connectCpuBefore = proxyCpu();
    const connects = [];
    for (let i = 1; i <= opts['connect-repeats']; i++) {
      connects.push(
        bench(cpus, 'connections', [...common, '--connections', String(opts.connections), '--rate', '5000', '--duration', '2s'], out(`connections-${i}`))
          .connections,
      );
    }
    const connectCpu = proxyCpu() - connectCpuBefore;
    const phase = fanout.phases.at(-1);
    const delivered = fanout.totals.delivered;
    return {
      layout,
      round: roundNo,
      name: path.name,
      deliveriesPerSec: Math.round(phase.deliveriesPerSec),
      delivered,
      loss: fanout.totals.loss,
      p50Ms: phase.latencyMs.p50,
      p99Ms: phase.latencyMs.p99,
      hopP50Ms: hop.phases.at(-1).latencyMs.p50,
      hopP99Ms: hop.phases.at(-1).latencyMs.p99,
      connectsPerSec: round(medianOf(connects.map((c) => c.connectsPerSec))),
      connectFailed: connects.reduce((a, c) => a + c.failed, 0),
      // Includes the 2 s holds (pings and health checks), which are small beside the connects.
      proxyCpuMsPerConnect: proxy === null ? null : round((connectCpu / (opts.connections * connects.length)) * 1000),
      proxyCpuSecondsPerMillion: proxy === null || delivered === 0 ? null : round(fanoutCpu / (delivered / 1e6)),
      // The kernel's part (reading the node's frame, writing it to the client): a floor no proxy code removes.
      proxyKernelSecondsPerMillion: proxy === null || delivered === 0 ? null : round(fanoutKernel / (delivered / 1e6)),
    };
  } finally {
    proxy?.child.kill('SIGKILL');
    node.child.kill('SIGKILL');
  }
}

const runs = [];
const skipped = paths.filter((p) => typeof p.start === 'string').map((p) => ({ name: p.name, skipped: p.start }));
for (let roundNo = 1; roundNo <= opts.rounds; roundNo++) {
  for (const layout of layouts) {
    for (const path of paths) {
      if (typeof path.start === 'string') continue;
      const run = await measure(path, layout, roundNo);
      runs.push(run);
      console.log(
        `round ${roundNo} ${layout} ${path.name}: ${run.deliveriesPerSec} deliveries/s (loss ${run.loss}), fan-out p50 ${run.p50Ms} ms, hop p50 ${run.hopP50Ms} ms, ${run.connectsPerSec} connects/s` +
          (run.proxyCpuMsPerConnect === null
            ? ''
            : `, proxy ${run.proxyCpuMsPerConnect} ms CPU/connect, ${run.proxyCpuSecondsPerMillion} CPU-s/1M (kernel ${run.proxyKernelSecondsPerMillion})`),
      );
    }
  }
}

/** Median over rounds, rounded (NaN, shown as —, when no round has the figure). */
const median = (values) => round(medianOf(values));
/** Median over rounds of f(run, the same round's run of path `other`). */
function paired(layout, name, other, f) {
  return median(
    runs
      .filter((r) => r.layout === layout && r.name === name)
      .map((r) => {
        const o = runs.find((x) => x.layout === layout && x.round === r.round && x.name === other);
        return o === undefined ? null : f(r, o);
      }),
  );
}

const rows = [];
const verdicts = [];
for (const layout of layouts) {
  for (const path of paths) {
    const mine = runs.filter((r) => r.layout === layout && r.name === path.name);
    if (mine.length === 0) continue;
    const med = (k) => median(mine.map((r) => r[k]));
    const vsDirect = (f) => (path.name === 'direct' ? null : paired(layout, path.name, 'direct', f));
    rows.push({
      layout,
      name: path.name,
      rounds: mine.length,
      deliveriesPerSec: med('deliveriesPerSec'),
      lossTotal: mine.reduce((a, r) => a + r.loss, 0),
      p50Ms: med('p50Ms'),
      p50AddedMs: vsDirect((r, d) => r.p50Ms - d.p50Ms),
      p99Ms: med('p99Ms'),
      p99AddedMs: vsDirect((r, d) => r.p99Ms - d.p99Ms),
      hopP50Ms: med('hopP50Ms'),
      hopP50AddedMs: vsDirect((r, d) => r.hopP50Ms - d.hopP50Ms),
      hopP99Ms: med('hopP99Ms'),
      connectsPerSec: med('connectsPerSec'),
      connectRatio: vsDirect((r, d) => r.connectsPerSec / d.connectsPerSec),
      proxyCpuMsPerConnect: med('proxyCpuMsPerConnect'),
      proxyCpuSecondsPerMillion: med('proxyCpuSecondsPerMillion'),
      proxyKernelSecondsPerMillion: med('proxyKernelSecondsPerMillion'),
      cpuPerDeliveryVsHaproxy:
        path.name === 'balance' ? paired(layout, 'balance', 'haproxy', (r, h) => r.proxyCpuSecondsPerMillion / h.proxyCpuSecondsPerMillion) : null,
      // CPU per delivery compares only where both proxies kept up: one that falls behind reads fewer, larger chunks.
      bothFullRate:
        path.name === 'balance'
          ? runs
              .filter((r) => r.layout === layout && r.name !== 'direct')
              .every((r) => r.loss === 0 && r.deliveriesPerSec >= 0.98 * opts.subscribers * opts.rate)
          : null,
    });
  }
  const balance = rows.find((r) => r.layout === layout && r.name === 'balance');
  const haproxy = rows.find((r) => r.layout === layout && r.name === 'haproxy');
  const met = (ok) => (ok ? 'met' : 'NOT met');
  const ref = (v, unit = '') => (haproxy === undefined || v === null ? '' : ` (HAProxy ${v}${unit})`);
  verdicts.push(
    `${layout}: hop, added p50 under 1 ms: ${met(balance.hopP50AddedMs < 1)}, +${balance.hopP50AddedMs} ms${ref(haproxy?.hopP50AddedMs, ' ms')}`,
    `${layout}: fan-out, added p50 under 1 ms: ${met(balance.p50AddedMs < 1)}, +${balance.p50AddedMs} ms${ref(haproxy?.p50AddedMs, ' ms')}`,
    `${layout}: connect rate at least 0.8× direct: ${met(balance.connectRatio >= 0.8)}, ${balance.connectRatio}×${ref(haproxy?.connectRatio, '×')}`,
    haproxy === undefined
      ? `${layout}: CPU per delivery vs HAProxy: no HAProxy row`
      : `${layout}: proxy CPU per delivery at most 2× HAProxy's (aim 1.5×): ${met(balance.cpuPerDeliveryVsHaproxy <= 2)}, ${balance.cpuPerDeliveryVsHaproxy}×${balance.bothFullRate ? '' : ' (a proxy fell behind the rate in some round: not comparable)'}`,
  );
}

const fmt = (v, sign = false) => (v === null || v === undefined || Number.isNaN(v) ? '—' : sign && v >= 0 ? `+${v}` : String(v));
console.log(
  `\nfan-out: ${opts.subscribers} subscribers × ${opts.rate} publishes/s for ${opts.duration}; hop: ${opts['hop-subscribers']} × ${opts['hop-rate']}/s; connect rate: median of ${opts['connect-repeats']} × ${opts.connections} connections; medians of ${opts.rounds} round(s)${hasTaskset ? '' : '; not pinned: no taskset'}\n`,
);
console.log(
  `| layout | path | delivered/s | loss (all rounds) | fan-out p50 ms (added) | fan-out p99 ms (added) | hop p50 ms (added) | hop p99 ms | connects/s (× direct) | proxy CPU ms per connect | proxy CPU-s per 1M delivered (× HAProxy) | of which kernel |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n${rows
    .map(
      (r) =>
        `| ${r.layout} | ${r.name} | ${r.deliveriesPerSec} | ${r.lossTotal} | ${r.p50Ms} (${fmt(r.p50AddedMs, true)}) | ${r.p99Ms} (${fmt(r.p99AddedMs, true)}) | ${r.hopP50Ms} (${fmt(r.hopP50AddedMs, true)}) | ${r.hopP99Ms} | ${r.connectsPerSec} (${fmt(r.connectRatio)}) | ${fmt(r.proxyCpuMsPerConnect)} | ${fmt(r.proxyCpuSecondsPerMillion)} (${fmt(r.cpuPerDeliveryVsHaproxy)}) | ${fmt(r.proxyKernelSecondsPerMillion)} |`,
    )
    .join('\n')}${skipped.map((s) => `\n| | ${s.name} | skipped: ${s.skipped} | | | | | | | | | |`).join('')}`,
);
console.log(`\n${verdicts.join('\n')}`);
const file = `${dir}bench-balancer-${stamp}.json`;
writeFileSync(
  file,
  JSON.stringify(
    {
      command: `node bench/balancer.mjs ${process.argv.slice(2).join(' ')}`.trim(),
      startedAt: stamp,
      pinned: hasTaskset,
      opts,
      layouts: LAYOUTS,
      rows,
      verdicts,
      skipped,
      runs,
    },
    null,
    2,
  ),
);
console.log(`\nwrote ${file}`);
