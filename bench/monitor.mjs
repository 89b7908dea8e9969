#!/usr/bin/env node
// npm run bench:monitor — what the resource monitor costs: the anchors
// fan-out (../shared/anchors, or --anchors DIR) at 10,000 subscribers against
// `switchboard start` with the monitor on and off, interleaved in one run
// (on, off, off, on, ... so drift on a shared machine falls on both), the
// server pinned to CPU 0 by the harness. Per step rate: the server's CPU as %
// of one core, median per setting, and the difference (on − off) in
// percentage points of a core. Run it under `flock /tmp/bench.lock`.
//
//   node bench/monitor.mjs [--anchors /tmp/anchors] [--subs 10000] [--rates 1,5] [--step-secs 10] [--repeats 2]
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, median, options, requireBuild } from './lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const opts = options({
  anchors: existsSync('/tmp/anchors/bench.mjs') ? '/tmp/anchors' : join(root, '../shared/anchors'),
  subs: 10_000,
  rates: '1,5',
  'step-secs': 10,
  repeats: 2,
});
if (!existsSync(join(opts.anchors, 'bench.mjs'))) throw new Error(`no anchors harness at ${opts.anchors} (--anchors DIR)`);
requireBuild();

const outDir = join(root, 'results');
mkdirSync(outDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');

function runOnce(monitor, index) {
  const out = join(outDir, `bench-monitor-${stamp}-${index}-${monitor ? 'on' : 'off'}.json`);
  const serverCmd = `node ${CLI} start --port $PORT --host 127.0.0.1 --log-level warn --monitor ${monitor}`;
  const args = [
    'bench.mjs',
    '--target',
    'pusher',
    '--scenario',
    'fanout',
    '--subs',
    String(opts.subs),
    '--rates',
    opts.rates,
    '--step-secs',
    String(opts['step-secs']),
    '--warmup-rate',
    '1',
    '--warmup-secs',
    '2',
    '--server-cmd',
    serverCmd,
    '--app-id',
    'app-id',
    '--app-key',
    'app-key',
    '--app-secret',
    'app-secret',
    '--label',
    `monitor-${monitor ? 'on' : 'off'}`,
    '--out',
    out,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: opts.anchors, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(readFileSync(out, 'utf8'))) : reject(new Error(`anchors bench exited with ${code}`))));
  });
}

const runs = [];
const repeats = opts.repeats;
for (let r = 0; r < repeats; r++) {
  for (const monitor of r % 2 === 0 ? [true, false] : [false, true]) {
    const result = await runOnce(monitor, runs.length);
    runs.push({ monitor, steps: result.scenarios.fanout.steps, connectFailed: result.scenarios.fanout.connectFailed });
  }
}

const rates = opts.rates.split(',').map(Number);
const rows = rates.map((rate) => {
  const pick = (monitor) =>
    runs
      .filter((r) => r.monitor === monitor)
      .map((r) => r.steps.find((s) => s.rate === rate))
      .filter(Boolean);
  const on = pick(true);
  const off = pick(false);
  const cpuOn = median(on.map((s) => s.srvCpuPct));
  const cpuOff = median(off.map((s) => s.srvCpuPct));
  return {
    rate,
    deliveriesPerSec: rate * opts.subs,
    cpuOnPct: cpuOn,
    cpuOffPct: cpuOff,
    costPctOfCore: cpuOn - cpuOff,
    cpuOnRuns: on.map((s) => s.srvCpuPct),
    cpuOffRuns: off.map((s) => s.srvCpuPct),
    p99OnMs: median(on.map((s) => s.latencyMs.p99)),
    p99OffMs: median(off.map((s) => s.latencyMs.p99)),
    lossOn: on.reduce((a, s) => a + s.loss, 0),
    lossOff: off.reduce((a, s) => a + s.loss, 0),
  };
});

const summary = {
  command: `node bench/monitor.mjs --subs ${opts.subs} --rates ${opts.rates} --step-secs ${opts['step-secs']} --repeats ${opts.repeats}`,
  runs: runs.length,
  connectFailed: runs.map((r) => r.connectFailed),
  rows,
};
writeFileSync(join(outDir, `bench-monitor-${stamp}.json`), JSON.stringify(summary, null, 2));
console.log(`\nmonitor cost at ${opts.subs} subscribers (server CPU, % of one core; median of ${repeats} runs each, interleaved)\n`);
console.log('| msg/s | deliveries/s | CPU monitor on | CPU monitor off | on − off | p99 on / off ms | loss on / off |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.rate} | ${r.deliveriesPerSec} | ${r.cpuOnPct.toFixed(2)} % (${r.cpuOnRuns.map((x) => x.toFixed(2)).join(', ')}) | ${r.cpuOffPct.toFixed(2)} % (${r.cpuOffRuns.map((x) => x.toFixed(2)).join(', ')}) | ${r.costPctOfCore >= 0 ? '+' : ''}${r.costPctOfCore.toFixed(2)} pp | ${r.p99OnMs.toFixed(1)} / ${r.p99OffMs.toFixed(1)} | ${r.lossOn} / ${r.lossOff} |`,
  );
}
