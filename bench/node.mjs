#!/usr/bin/env node
// npm run bench:node — the single-node benchmark of a Switchboard node, with
// the product's own load tester (`switchboard bench`):
//   1. 10,000 idle connections (each subscribed to its own channel): connect
//      rate, server KiB per connection;
//   2. one channel with 1,000 subscribers at 20k, 50k and 100k deliveries/s
//      (20, 50, 100 publishes/s through the HTTP API): delivered/s, loss,
//      p50/p99 end-to-end latency from the scheduled send time.
// The node runs on CPU 0, the generator on CPU 1 (taskset), so neither steals
// the other's core. Results: results/bench-node-<time>.json (+ the two raw runs).
//
//   node bench/node.mjs [--connections 10000] [--subscribers 1000] [--rates 20,50,100] [--step 10s]
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CLI, hasTaskset, options, pinned, requireBuild, startNode } from './lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const opts = options({ connections: 10_000, subscribers: 1000, rates: '20,50,100', step: '10s' });
requireBuild();

function bench(scenario, args, out) {
  const [cmd, ...rest] = pinned('1', [process.execPath, CLI, 'bench', scenario, ...args, '--workers', '1', '--out', out]);
  execFileSync(cmd, rest, { stdio: 'inherit' });
  return JSON.parse(readFileSync(out, 'utf8'));
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const dir = `${root}results`;
mkdirSync(dir, { recursive: true });
const summary = { command: `node bench/node.mjs ${process.argv.slice(2).join(' ')}`.trim(), startedAt: new Date().toISOString(), pinned: hasTaskset };

// A fresh node per part, so the idle figure is not inflated by fan-out garbage and vice versa.
{
  const node = await startNode([], { cpus: '0' });
  try {
    const common = ['--url', `ws://127.0.0.1:${node.port}`, '--server-pid', String(node.pid)];
    summary.idle = bench(
      'connections',
      [...common, '--connections', String(opts.connections), '--rate', '5000', '--duration', '3s', '--quiet'],
      `${dir}/bench-node-${stamp}-idle.json`,
    );
  } finally {
    node.child.kill('SIGKILL');
  }
}
{
  const node = await startNode([], { cpus: '0' });
  try {
    const common = ['--url', `ws://127.0.0.1:${node.port}`, '--server-pid', String(node.pid)];
    summary.fanout = [];
    for (const rate of opts.rates.split(',')) {
      const run = bench(
        'fanout',
        [...common, '--subscribers', String(opts.subscribers), '--rate', rate, '--duration', opts.step, '--quiet'],
        `${dir}/bench-node-${stamp}-fanout-${rate}.json`,
      );
      summary.fanout.push(run);
    }
  } finally {
    node.child.kill('SIGKILL');
  }
}

// The figures the issue asks for, in one table.
const rows = summary.fanout.map((run) => {
  const phase = run.phases.at(-1);
  return `| ${phase.rate} msg/s × ${opts.subscribers} | ${Math.round(phase.deliveriesPerSec)} | ${phase.loss} | ${phase.latencyMs.p50} | ${phase.latencyMs.p99} | ${run.server?.cpuAvgPct ?? 'n/a'} |`;
});
const idle = summary.idle;
console.log(
  `\nidle: ${idle.connections.open} connections, ${idle.connections.connectsPerSec} conn/s, connect p99 ${idle.connections.connectMs.p99} ms, server ${idle.server?.memoryPerConnectionKiB ?? '?'} KiB per connection`,
);
console.log(`\n| load | delivered/s | loss | p50 ms | p99 ms | server CPU % |\n|---|---|---|---|---|---|\n${rows.join('\n')}`);
const file = `${dir}/bench-node-${stamp}.json`;
writeFileSync(file, JSON.stringify(summary, null, 2));
console.log(`\nwrote ${file}`);
