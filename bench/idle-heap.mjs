// Where the bytes of an idle connection go: start a node, open N idle
// connections (each subscribed to its own channel, as the anchors idle
// scenario does), take a heap snapshot in the server, and print the shallow
// size per constructor divided by N, plus RSS and external memory per
// connection, and where RSS goes beyond the live objects (each V8 space's
// committed memory, and the rest: native memory, malloc and code). Usage
// (always under the bench lock):
//   flock /tmp/bench.lock node bench/idle-heap.mjs [--n 10000] [--dist dist] [--keep]
//     [--node-args '--max-semi-space-size=1'] [--env MALLOC_ARENA_MAX=2] [--no-snapshot] [--no-gc]
// --no-snapshot reads memory only (a snapshot's own allocations stay in RSS);
// --no-gc reads it without forcing a collection first, as anchors does.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';
import { options } from './lib.mjs';

const opts = options({
  n: 10000,
  dist: 'dist',
  top: 30,
  keep: false,
  retainers: undefined,
  'node-args': '',
  env: [],
  'no-snapshot': false,
  'no-gc': false,
});
const N = opts.n;
const dir = mkdtempSync(join(tmpdir(), 'idle-heap-'));
const main = resolve(opts.dist, 'cli/main.js');

const probe = `
const v8 = require('node:v8');
process.on('SIGUSR2', () => {
  ${opts['no-gc'] ? '' : 'global.gc(); global.gc();'}
  const m = process.memoryUsage();
  m.spaces = {};
  for (const s of v8.getHeapSpaceStatistics()) m.spaces[s.space_name] = s.physical_space_size;
  process.stdout.write('MEM ' + JSON.stringify(m) + '\\n');
  const file = ${opts['no-snapshot'] ? "'none'" : `v8.writeHeapSnapshot(${JSON.stringify(dir)} + '/idle-' + Date.now() + '.heapsnapshot')`};
  process.stdout.write('SNAPSHOT ' + file + '\\n');
});`;
const preload = join(dir, 'probe.cjs');
writeFileSync(preload, probe);
const nodeArgs = opts['node-args'].split(' ').filter(Boolean);
const env = { ...process.env };
for (const pair of opts.env) env[pair.slice(0, pair.indexOf('='))] = pair.slice(pair.indexOf('=') + 1);
const proc = spawn(process.execPath, ['--expose-gc', ...nodeArgs, '-r', preload, main, 'start', '--port', '0', '--host', '127.0.0.1', '--log-level', 'info'], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env,
});
let out = '';
const waitFor = (re) =>
  new Promise((res) => {
    const check = () => {
      const m = re.exec(out);
      if (m) {
        proc.stdout.off('data', onData);
        res(m);
      }
    };
    const onData = (d) => {
      out += d;
      check();
    };
    proc.stdout.on('data', onData);
    check();
  });
const port = Number((await waitFor(/"port":(\d+)/))[1]);

async function open(i) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/app/app-key?protocol=7&client=js&version=8.4.0`, { perMessageDeflate: false });
  await new Promise((res, rej) => {
    ws.on('message', (d) => {
      const m = JSON.parse(String(d));
      if (m.event === 'pusher:connection_established') ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel: `idle-${i}` } }));
      if (m.event === 'pusher_internal:subscription_succeeded') res();
    });
    ws.on('error', rej);
  });
  return ws;
}
async function memory() {
  out = '';
  proc.kill('SIGUSR2');
  const mem = JSON.parse((await waitFor(/MEM (.*)\n/))[1]);
  const file = (await waitFor(/SNAPSHOT (.*)\n/))[1];
  return { mem, file };
}

const base = await memory();
const sockets = [];
for (let i = 0; i < N; i += 100) sockets.push(...(await Promise.all(Array.from({ length: Math.min(100, N - i) }, (_, k) => open(i + k)))));
await new Promise((r) => setTimeout(r, 2000));
const after = await memory();

function perConstructor(file) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const f = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = f.length;
  const iType = f.indexOf('type'),
    iName = f.indexOf('name'),
    iSize = f.indexOf('self_size');
  const by = new Map();
  const nodes = snap.nodes;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + iType]];
    let name = type === 'object' || type === 'closure' || type === 'native' ? snap.strings[nodes[i + iName]] : `(${type})`;
    if (type === 'closure') name = `closure ${name}`;
    const e = by.get(name) ?? { count: 0, size: 0 };
    e.count++;
    e.size += nodes[i + iSize];
    by.set(name, e);
  }
  return by;
}
const kib = (x) => (x / 1024).toFixed(2);
console.log(`connections: ${N}`);
console.log(
  `RSS per connection: ${kib((after.mem.rss - base.mem.rss) / N)} KiB; V8 heap used: ${kib((after.mem.heapUsed - base.mem.heapUsed) / N)} KiB; external+arrayBuffers: ${kib((after.mem.external - base.mem.external) / N)} KiB`,
);
// RSS growth split: what each V8 space committed (resident pages) and the rest.
let spacesTotal = 0;
const spaceRows = [];
for (const [space, size] of Object.entries(after.mem.spaces)) {
  const grew = size - (base.mem.spaces[space] ?? 0);
  spacesTotal += grew;
  if (Math.abs(grew) >= 1024) spaceRows.push(`${space} ${kib(grew / N)}`);
}
console.log(
  `RSS growth per connection, KiB: V8 spaces ${kib(spacesTotal / N)} (${spaceRows.join(', ')}); outside V8 (native objects, malloc, code) ${kib((after.mem.rss - base.mem.rss - spacesTotal) / N)}`,
);
if (after.file !== 'none') {
  const before = perConstructor(base.file);
  const later = perConstructor(after.file);
  const rows = [];
  for (const [name, e] of later) {
    const b = before.get(name) ?? { count: 0, size: 0 };
    const size = e.size - b.size;
    if (size > 0) rows.push({ name, perConn: size / N, countPerConn: (e.count - b.count) / N });
  }
  rows.sort((a, b) => b.perConn - a.perConn);
  let total = 0;
  for (const r of rows) total += r.perConn;
  console.log(`heap snapshot, shallow bytes per connection: ${total.toFixed(0)} B`);
  console.log('| constructor | bytes/conn | objects/conn |\n|---|---|---|');
  for (const r of rows.slice(0, opts.top)) console.log(`| ${r.name.slice(0, 60)} | ${r.perConn.toFixed(0)} | ${r.countPerConn.toFixed(2)} |`);
  if (opts.retainers) printRetainers(after.file, opts.retainers.split(','));
}

/** Who holds the objects of these constructors: counts of (retainer constructor, edge name). */
function printRetainers(file, names) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const f = snap.snapshot.meta.node_fields;
  const ef = snap.snapshot.meta.edge_fields;
  const types = snap.snapshot.meta.node_types[0];
  const etypes = snap.snapshot.meta.edge_types[0];
  const width = f.length,
    ewidth = ef.length;
  const iType = f.indexOf('type'),
    iName = f.indexOf('name'),
    iEdges = f.indexOf('edge_count');
  const eType = ef.indexOf('type'),
    eName = ef.indexOf('name_or_index'),
    eTo = ef.indexOf('to_node');
  const nodes = snap.nodes,
    edges = snap.edges,
    strings = snap.strings;
  const label = (i) => {
    const t = types[nodes[i + iType]];
    return t === 'object' || t === 'closure' || t === 'native' ? strings[nodes[i + iName]] : `(${t})`;
  };
  const wanted = new Set(names);
  const by = new Map();
  let e = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const count = nodes[i + iEdges];
    for (let k = 0; k < count; k++, e += ewidth) {
      const to = edges[e + eTo];
      const target = label(to);
      if (!wanted.has(target)) continue;
      const et = etypes[edges[e + eType]];
      const en = et === 'element' || et === 'hidden' ? `[${et}]` : strings[edges[e + eName]];
      if (et === 'weak') continue;
      const key = `${target} <- ${label(i)}.${en}`;
      by.set(key, (by.get(key) ?? 0) + 1);
    }
  }
  for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${(v / N).toFixed(2)}/conn  ${k}`);
}
for (const ws of sockets) ws.terminate();
proc.kill();
if (!opts.keep) rmSync(dir, { recursive: true, force: true });
else console.log(`snapshots kept in ${dir}`);
process.exit(0);
