#!/usr/bin/env node
// Cross-node cost of clustering, measured on this machine:
//   npm run build && node bench/cluster.mjs [--subscribers 200] [--rate 200] [--seconds 5]
// Runs, in one go: (1) one node alone, (2) two nodes + a redis-server this
// script starts on a free port. Subscribers are raw WebSocket clients split
// over both nodes; events are published through node A's HTTP API. Latency is
// publish-call to message receipt (same process clock), reported separately
// for subscribers on the publishing node and on the other node. Throughput is
// deliveries/s with the publisher as fast as a bounded number of in-flight
// requests allows.
import { spawn } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const args = parseArgs(process.argv.slice(2));
const SUBSCRIBERS = Number(args.subscribers ?? 200);
const RATE = Number(args.rate ?? 200); // publishes/s in the latency phase
const SECONDS = Number(args.seconds ?? 5);
const IN_FLIGHT = Number(args['in-flight'] ?? 16); // concurrent publishes in the throughput phase
const APP = { id: 'bench-app', key: 'bench-key', secret: 'bench-secret' };
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const REDIS = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p)) ?? 'redis-server';
const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
const children = [];

process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));
process.on('SIGINT', () => process.exit(130));

if (!existsSync(CLI)) {
  console.error('dist/cli/main.js not found: run `npm run build` first');
  process.exit(2);
}

const results = {};
{
  const a = await startNode(['--adapter', 'local']);
  results.single = await scenario([a], a);
  await stopNode(a);
}
{
  const redisPort = await freePort();
  await startProcess(REDIS, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], /Ready to accept connections/);
  const flags = ['--adapter', 'redis', '--redis-url', `redis://127.0.0.1:${redisPort}`, '--key-prefix', `bench${process.pid}`];
  const a = await startNode([...flags, '--node-id', 'bench-a']);
  const b = await startNode([...flags, '--node-id', 'bench-b']);
  await waitForPeers(a, 2);
  results.cluster = await scenario([a, b], a);
}

report(results);
process.exit(0);

// ---- scenario ----------------------------------------------------------------

async function scenario(nodes, publishTo) {
  const channel = `bench-${Date.now()}`;
  const subs = [];
  for (let i = 0; i < SUBSCRIBERS; i++) subs.push(await subscribe(nodes[i % nodes.length], channel));
  await sleep(300); // upstream subscriptions settle

  // Latency at a fixed rate.
  for (const s of subs) s.latencies = [];
  const publishedAtRate = await publishFor(publishTo, channel, SECONDS * 1000, { rate: RATE });
  await sleep(500);
  const local = subs.filter((s) => s.node === publishTo).flatMap((s) => s.latencies);
  const remote = subs.filter((s) => s.node !== publishTo).flatMap((s) => s.latencies);
  const expected = publishedAtRate * subs.length;

  // Throughput: as fast as IN_FLIGHT concurrent publishes go.
  for (const s of subs) {
    s.latencies = null;
    s.count = 0;
  }
  const cpuBefore = await nodesCpu(nodes);
  const started = performance.now();
  const published = await publishFor(publishTo, channel, SECONDS * 1000, { inFlight: IN_FLIGHT });
  await sleep(500);
  const elapsed = (performance.now() - started) / 1000;
  const cpuSeconds = (await nodesCpu(nodes)) - cpuBefore;
  const deliveries = subs.reduce((n, s) => n + s.count, 0);
  for (const s of subs) s.ws.terminate();
  return {
    nodes: nodes.length,
    subscribers: subs.length,
    latency: { local: summary(local), crossNode: remote.length > 0 ? summary(remote) : null, received: local.length + remote.length, expected },
    throughput: { published, deliveries, deliveriesPerSecond: Math.round(deliveries / elapsed), nodeCpuSeconds: round(cpuSeconds), deliveriesPerCpuSecond: Math.round(deliveries / Math.max(cpuSeconds, 0.001)) },
  };
}

function subscribe(node, channel) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/app/${APP.key}?protocol=7&client=bench&version=1`, { perMessageDeflate: false });
    const sub = { ws, node, latencies: [], count: 0 };
    ws.on('error', reject);
    ws.on('message', (raw) => {
      const text = raw.toString();
      if (text.includes('pusher:connection_established')) {
        ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel } }));
      } else if (text.includes('subscription_succeeded')) {
        resolve(sub);
      } else if (text.includes('"event":"tick"')) {
        sub.count++;
        if (sub.latencies !== null) {
          // The payload carries the publish time; found without parsing the whole frame.
          const at = text.indexOf('t\\":');
          if (at !== -1) sub.latencies.push(performance.timeOrigin + performance.now() - parseFloat(text.slice(at + 4)));
        }
      }
    });
  });
}

async function publishFor(node, channel, ms, { rate, inFlight }) {
  const end = performance.now() + ms;
  let published = 0;
  if (rate !== undefined) {
    // A fixed schedule; a late publish is sent at once, not skipped.
    const interval = 1000 / rate;
    let next = performance.now();
    const pending = [];
    while (performance.now() < end) {
      pending.push(publish(node, channel));
      published++;
      next += interval;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
    }
    await Promise.all(pending);
    return published;
  }
  const lanes = Array.from({ length: inFlight }, async () => {
    while (performance.now() < end) {
      await publish(node, channel);
      published++;
    }
  });
  await Promise.all(lanes);
  return published;
}

function publish(node, channel) {
  const body = JSON.stringify({ name: 'tick', channels: [channel], data: JSON.stringify({ t: performance.timeOrigin + performance.now() }) });
  const path = `/apps/${APP.id}/events`;
  const params = { auth_key: APP.key, auth_timestamp: String(Math.floor(Date.now() / 1000)), auth_version: '1.0', body_md5: createHash('md5').update(body).digest('hex') };
  const query = Object.keys(params).sort().map((k) => `${k}=${params[k]}`).join('&');
  const signature = createHmac('sha256', APP.secret).update(`POST\n${path}\n${query}`).digest('hex');
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: node.port, path: `${path}?${query}&auth_signature=${signature}`, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

// ---- processes -----------------------------------------------------------------

async function startNode(extra) {
  const appJson = JSON.stringify([{ ...APP, name: 'bench' }]);
  const { child, line } = await startProcess(process.execPath, [CLI, 'start', '--host', '127.0.0.1', '--port', '0', '--apps', appJson, '--log-level', 'info', ...extra], /"msg":"switchboard node listening"/);
  return { child, port: JSON.parse(line).port };
}

async function stopNode(node) {
  const exited = new Promise((r) => node.child.once('exit', r));
  node.child.kill('SIGTERM');
  await exited;
}

async function waitForPeers(node, count) {
  for (let i = 0; i < 100; i++) {
    const body = await new Promise((resolve) => http.get({ host: '127.0.0.1', port: node.port, path: '/cluster' }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve(text));
    }).on('error', () => resolve('{}')));
    try {
      if ((JSON.parse(body).nodes ?? []).length >= count) return;
    } catch {}
    await sleep(100);
  }
  throw new Error('the nodes did not find each other');
}

function startProcess(cmd, argv, ready) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let buffer = '';
    const onData = (chunk) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop();
      for (const line of lines) if (ready.test(line)) resolve({ child, line });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${cmd} exited with ${code}`)));
    setTimeout(() => reject(new Error(`${cmd} did not start`)), 10_000).unref();
  });
}

/** CPU seconds (user + system) the node processes have used so far, from /proc. */
async function nodesCpu(nodes) {
  const { readFileSync } = await import('node:fs');
  let ticks = 0;
  for (const n of nodes) {
    try {
      const fields = readFileSync(`/proc/${n.child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {}
  }
  return ticks / 100;
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// ---- report ----------------------------------------------------------------------

function summary(values) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((x, y) => x - y);
  const at = (q) => round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
  return { p50: at(0.5), p99: at(0.99), max: round(sorted[sorted.length - 1]), samples: sorted.length };
}

function report({ single, cluster }) {
  const ms = (v) => (v == null ? '-' : `${v.toFixed(2)} ms`);
  console.log(`\nswitchboard cluster bench — node ${process.version}, ${SUBSCRIBERS} subscribers, ${RATE}/s for ${SECONDS}s, then ${IN_FLIGHT} publishes in flight for ${SECONDS}s`);
  console.log(`command: node bench/cluster.mjs --subscribers ${SUBSCRIBERS} --rate ${RATE} --seconds ${SECONDS} --in-flight ${IN_FLIGHT}\n`);
  console.log('| setup | p50 | p99 | deliveries/s | deliveries per node-CPU-s | received/expected |');
  console.log('|---|---|---|---|---|---|');
  console.log(`| 1 node | ${ms(single.latency.local?.p50)} | ${ms(single.latency.local?.p99)} | ${single.throughput.deliveriesPerSecond} | ${single.throughput.deliveriesPerCpuSecond} | ${single.latency.received}/${single.latency.expected} |`);
  console.log(`| 2 nodes + Redis, same node | ${ms(cluster.latency.local?.p50)} | ${ms(cluster.latency.local?.p99)} | ${cluster.throughput.deliveriesPerSecond} (both) | ${cluster.throughput.deliveriesPerCpuSecond} | ${cluster.latency.received}/${cluster.latency.expected} |`);
  console.log(`| 2 nodes + Redis, cross-node | ${ms(cluster.latency.crossNode?.p50)} | ${ms(cluster.latency.crossNode?.p99)} | | | |`);
  const overhead = cluster.latency.crossNode && single.latency.local ? cluster.latency.crossNode.p50 - single.latency.local.p50 : null;
  const ratio = cluster.throughput.deliveriesPerSecond / single.throughput.deliveriesPerSecond;
  const perCpu = cluster.throughput.deliveriesPerCpuSecond / single.throughput.deliveriesPerCpuSecond;
  console.log(`\ncross-node p50 overhead over single node: ${ms(overhead)} (target < 2 ms)`);
  console.log(`cluster deliveries per node-CPU-second vs single node: ${(perCpu * 100).toFixed(0)}% (target >= 70% at the same CPU)`);
  console.log(`cluster deliveries/s vs single node (wall clock, CPU shared with this client and Redis): ${(ratio * 100).toFixed(0)}%`);
  console.log(`\n${JSON.stringify({ single, cluster })}`);
}

function parseArgs(list) {
  const out = {};
  for (let i = 0; i < list.length; i++) if (list[i].startsWith('--')) out[list[i].slice(2)] = list[i + 1], i++;
  return out;
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function round(v) {
  return Math.round(v * 1000) / 1000;
}
