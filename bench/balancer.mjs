#!/usr/bin/env node
// npm run bench:balancer — what a proxy in front of a node costs, with the
// product's own load tester (`switchboard bench`). Three rows, same node
// (one `switchboard start`, local adapter):
//   direct   — clients and publishes straight to the node;
//   balance  — through `switchboard balance` (least-connections);
//   haproxy  — through HAProxy with the config `balance --print-haproxy` renders
//              (leastconn, checks on /ready, tunnel timeout); skipped, saying
//              why, when `haproxy` is not on PATH.
// Per row: the hop (--hop-subscribers × --hop-rate, small enough that nothing
// queues: what one more hop adds to a message) and the fan-out scenario (--subscribers clients on one channel,
// --rate publishes/s through the proxy's HTTP side: 1,000 × 50 = 50,000
// deliveries/s by default) → delivered/s, p50/p99 and what the proxy adds
// to them against the direct row; the connections scenario → connect rate;
// the proxy's CPU-seconds (from /proc) per million delivered messages.
// CPU layout (taskset, when present), --layout:
//   shared   (default) — the node on CPU 0; the proxy and the load generator share CPU 1, so every
//            microsecond the proxy spends is taken from the generator (the direct row's generator has
//            CPU 1 to itself);
//   own-core — the node and the generator share CPU 0, the proxy has CPU 1 to itself, as a proxy
//            on its own machine or core would (the direct row uses the same CPU 0 for both).
// Results: results/bench-balancer-<time>.json.
//
//   node bench/balancer.mjs [--subscribers 1000] [--rate 50] [--duration 10s] [--connections 2000] [--layout shared|own-core]
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuSeconds, freePort, hasTaskset, pinned } from './lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = `${root}dist/cli/main.js`;
const { values: opts } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '50' },
    duration: { type: 'string', default: '10s' },
    connections: { type: 'string', default: '2000' },
    // The hop alone: a fan-out small enough that no process queues a burst.
    'hop-subscribers': { type: 'string', default: '20' },
    'hop-rate': { type: 'string', default: '50' },
    layout: { type: 'string', default: 'shared' },
  },
});
if (opts.layout !== 'shared' && opts.layout !== 'own-core') throw new Error(`--layout: shared or own-core, not ${opts.layout}`);
/** CPUs of the node, the proxy and the load generator. */
const cpus = opts.layout === 'shared' ? { node: '0', proxy: '1', generator: '1' } : { node: '0', proxy: '1', generator: '0' };

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
  child.kill('SIGKILL');
  throw new Error(`${what} did not start`);
}

async function startNode() {
  const port = await freePort();
  const [cmd, ...args] = pinned(cpus.node, [process.execPath, cli, 'start', '--port', String(port), '--host', '127.0.0.1', '--log-level', 'warn']);
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitHttp(`http://127.0.0.1:${port}/health`, child, 'the node');
  return { child, port };
}

async function startBalance(nodePort) {
  const port = await freePort();
  const [cmd, ...args] = pinned(cpus.proxy, [
    process.execPath,
    cli,
    'balance',
    '--host',
    '127.0.0.1',
    '--listen',
    String(port),
    '--backend',
    `127.0.0.1:${nodePort}`,
    '--algorithm',
    'least-connections',
    '--log-level',
    'warn',
  ]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitHttp(`http://127.0.0.1:${port}/balancer`, child, 'switchboard balance');
  // Until the first checks pass it routes in panic mode; wait for a clean state.
  for (let i = 0; i < 50; i++) {
    const body = await fetch(`http://127.0.0.1:${port}/balancer`).then((r) => r.json());
    if (body.backends.every((b) => b.state === 'up')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, port };
}

async function startHaproxy(nodePort) {
  const port = await freePort();
  const cfg = execFileSync(
    process.execPath,
    [
      cli,
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
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitHttp(`http://127.0.0.1:${port}/ready`, child, 'haproxy');
  return { child, port };
}

function bench(scenario, args, out) {
  const [cmd, ...rest] = pinned(cpus.generator, [process.execPath, cli, 'bench', scenario, ...args, '--workers', '1', '--out', out]);
  execFileSync(cmd, rest, { stdio: 'inherit' });
  return JSON.parse(readFileSync(out, 'utf8'));
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const dir = `${root}results`;
mkdirSync(dir, { recursive: true });
const summary = {
  command: `node bench/balancer.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  startedAt: new Date().toISOString(),
  pinned: hasTaskset,
  layout: opts.layout,
  cpus,
  rows: [],
};

const targets = [
  { name: 'direct', start: null },
  { name: 'balance', start: startBalance },
  { name: 'haproxy', start: haproxyPath === null ? 'haproxy is not on PATH (apt-get install -y haproxy)' : startHaproxy },
];

for (const target of targets) {
  if (typeof target.start === 'string') {
    summary.rows.push({ name: target.name, skipped: target.start });
    continue;
  }
  const node = await startNode();
  let proxy = null;
  try {
    proxy = target.start === null ? null : await target.start(node.port);
    const port = proxy?.port ?? node.port;
    const common = [
      '--url',
      `ws://127.0.0.1:${port}`,
      '--http-url',
      `http://127.0.0.1:${port}`,
      '--metrics-url',
      `http://127.0.0.1:${node.port}/metrics`,
      '--server-pid',
      String(node.child.pid),
      '--quiet',
    ];
    const cpuBefore = proxy === null ? 0 : cpuSeconds(proxy.child.pid);
    const fanout = bench(
      'fanout',
      [...common, '--subscribers', opts.subscribers, '--rate', opts.rate, '--duration', opts.duration],
      `${dir}/bench-balancer-${stamp}-${target.name}-fanout.json`,
    );
    const cpuAfter = proxy === null ? 0 : cpuSeconds(proxy.child.pid);
    const hop = bench(
      'fanout',
      [...common, '--subscribers', opts['hop-subscribers'], '--rate', opts['hop-rate'], '--duration', opts.duration],
      `${dir}/bench-balancer-${stamp}-${target.name}-hop.json`,
    );
    const connectCpuBefore = proxy === null ? 0 : cpuSeconds(proxy.child.pid);
    const connects = bench(
      'connections',
      [...common, '--connections', opts.connections, '--rate', '5000', '--duration', '2s'],
      `${dir}/bench-balancer-${stamp}-${target.name}-connections.json`,
    );
    const connectCpu = proxy === null ? 0 : cpuSeconds(proxy.child.pid) - connectCpuBefore;
    const phase = fanout.phases.at(-1);
    const delivered = fanout.totals.delivered;
    summary.rows.push({
      name: target.name,
      deliveriesPerSec: Math.round(phase.deliveriesPerSec),
      delivered,
      loss: fanout.totals.loss,
      p50Ms: phase.latencyMs.p50,
      p99Ms: phase.latencyMs.p99,
      hopP50Ms: hop.phases.at(-1).latencyMs.p50,
      hopP99Ms: hop.phases.at(-1).latencyMs.p99,
      connectsPerSec: connects.connections.connectsPerSec,
      connectFailed: connects.connections.failed,
      // Includes the 2 s hold (pings and health checks), which is small beside the connects.
      proxyCpuMsPerConnect: proxy === null ? null : Math.round((connectCpu / Number(opts.connections)) * 1e6) / 1000,
      proxyCpuSeconds: proxy === null ? null : Math.round((cpuAfter - cpuBefore) * 100) / 100,
      proxyCpuSecondsPerMillion: proxy === null || delivered === 0 ? null : Math.round(((cpuAfter - cpuBefore) / (delivered / 1e6)) * 100) / 100,
    });
  } finally {
    proxy?.child.kill('SIGKILL');
    node.child.kill('SIGKILL');
  }
}

const direct = summary.rows.find((r) => r.name === 'direct');
const fmt = (v) => (v === null || v === undefined ? 'n/a' : String(v));
const added = (v, base) => {
  if (typeof v !== 'number' || typeof base !== 'number') return 'n/a';
  const d = Math.round((v - base) * 100) / 100;
  return d >= 0 ? `+${d}` : String(d);
};
const lines = summary.rows.map((r) =>
  r.skipped !== undefined
    ? `| ${r.name} | skipped: ${r.skipped} | | | | | | | | | |`
    : `| ${r.name} | ${r.deliveriesPerSec} | ${r.loss} | ${r.p50Ms} (${r.name === 'direct' ? '—' : added(r.p50Ms, direct?.p50Ms)}) | ${r.p99Ms} (${r.name === 'direct' ? '—' : added(r.p99Ms, direct?.p99Ms)}) | ${r.hopP50Ms} (${r.name === 'direct' ? '—' : added(r.hopP50Ms, direct?.hopP50Ms)}) | ${r.hopP99Ms} (${r.name === 'direct' ? '—' : added(r.hopP99Ms, direct?.hopP99Ms)}) | ${r.connectsPerSec} | ${fmt(r.proxyCpuMsPerConnect)} | ${fmt(r.proxyCpuSeconds)} | ${fmt(r.proxyCpuSecondsPerMillion)} |`,
);
console.log(
  `\nfan-out: ${opts.subscribers} subscribers × ${opts.rate} publishes/s for ${opts.duration}; hop: ${opts['hop-subscribers']} × ${opts['hop-rate']}/s; connect rate from ${opts.connections} connections; layout ${opts.layout} (node CPU ${cpus.node}, proxy CPU ${cpus.proxy}, generator CPU ${cpus.generator}${hasTaskset ? '' : ', not pinned: no taskset'})\n`,
);
console.log(
  `| path | delivered/s | loss | fan-out p50 ms (added) | fan-out p99 ms (added) | hop p50 ms (added) | hop p99 ms (added) | connects/s | proxy CPU ms per connect | proxy CPU-s | proxy CPU-s per 1M delivered |\n|---|---|---|---|---|---|---|---|---|---|---|\n${lines.join('\n')}`,
);
const file = `${dir}/bench-balancer-${stamp}.json`;
writeFileSync(file, JSON.stringify(summary, null, 2));
console.log(`\nwrote ${file}`);
