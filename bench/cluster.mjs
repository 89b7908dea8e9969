#!/usr/bin/env node
import { existsSync } from 'node:fs';
import http from 'node:http';
import WebSocket from 'ws';
import { cpuSeconds, freePort, options, publishEvent, requireBuild, round, sleep, startNode, startProcess, stopNode, summary } from './lib.mjs';

const args = options({
  adapter: 'redis', // redis | nats
  subscribers: 200,
  rate: 200, // publishes/s in the latency phase
  'load-rate': 2000, // publishes/s in the same-load phase
  seconds: 5,
  'in-flight': 16, // concurrent publishes in the throughput phase
  profile: undefined, // a directory: the nodes write CPU profiles there on exit
});
const SUBSCRIBERS = args.subscribers;
const RATE = args.rate;
const SECONDS = args.seconds;
const IN_FLIGHT = args['in-flight'];
const PROFILE_DIR = args.profile;
const LATENCY_SAMPLE = 4; // one subscriber in this many records latencies
const TICK = Buffer.from('"event":"tick"');
const SENT_AT = Buffer.from('t\\":'); // the publish time inside the escaped data string
const LOAD_RATE = args['load-rate'];
const APP = { id: 'bench-app', key: 'bench-key', secret: 'bench-secret' };
const REDIS = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p)) ?? 'redis-server';
const NATS = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((p) => existsSync(p)) ?? 'nats-server';
const BROKER = args.adapter;
if (BROKER !== 'redis' && BROKER !== 'nats') {
  console.error('--adapter is redis or nats');
  process.exit(2);
}
const BROKER_NAME = BROKER === 'nats' ? 'NATS' : 'Redis';
const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
requireBuild();

const results = {};
{
  const a = await benchNode(['--adapter', 'local']);
  results.single = await scenario([a], a);
  await stopNode(a);
}
{
  const brokerPort = await freePort();
  let flags;
  let broker;
  if (BROKER === 'nats') {
    broker = (await startProcess(NATS, ['-a', '127.0.0.1', '-p', String(brokerPort)], /Server is ready/)).child;
    flags = ['--adapter', 'nats', '--nats-url', `nats://127.0.0.1:${brokerPort}`];
  } else {
    broker = (
      await startProcess(REDIS, ['--port', String(brokerPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], /Ready to accept connections/)
    ).child;
    flags = ['--adapter', 'redis', '--redis-url', `redis://127.0.0.1:${brokerPort}`];
  }
  flags.push('--key-prefix', `bench${process.pid}`);
  const a = await benchNode([...flags, '--node-id', 'bench-a']);
  const b = await benchNode([...flags, '--node-id', 'bench-b']);
  await waitForPeers(a, 2);
  results.cluster = await scenario([a, b], a, { child: broker });
  // A profile is written only on a clean exit.
  if (PROFILE_DIR) await Promise.all([stopNode(a), stopNode(b)]);
}

report(results);
process.exit(0);

// ---- scenario ----------------------------------------------------------------

/** `broker`: a process whose CPU is reported next to the nodes' (not counted in theirs). */
async function scenario(nodes, publishTo, broker = null) {
  const channel = `bench-${Date.now()}`;
  const subs = [];
  for (let i = 0; i < SUBSCRIBERS; i++) subs.push(await subscribe(nodes[i % nodes.length], channel, Math.floor(i / nodes.length) % LATENCY_SAMPLE === 0));
  await sleep(300); // upstream subscriptions settle
  const result = {
    nodes: nodes.length,
    subscribers: subs.length,
    // Latency at a light fixed rate (no batching kicks in).
    light: await phase(nodes, broker, subs, () => publishFor(publishTo, channel, SECONDS * 1000, { rate: RATE })),
    // The same heavy load for both setups: CPU per delivery compared like for like.
    load: await phase(nodes, broker, subs, () => publishFor(publishTo, channel, SECONDS * 1000, { rate: LOAD_RATE })),
    // As fast as IN_FLIGHT concurrent publishes go (the client shares the machine).
    saturated: await phase(nodes, broker, subs, () => publishFor(publishTo, channel, SECONDS * 1000, { inFlight: IN_FLIGHT })),
  };
  for (const s of subs) s.ws.terminate();
  return result;
}

/** Run one publishing schedule; measure deliveries, latency split by node, and the nodes' CPU. */
async function phase(nodes, broker, subs, publishing) {
  const publishTo = nodes[0];
  for (const s of subs) {
    s.latencies = [];
    s.count = 0;
  }
  const cpuBefore = nodes.map((n) => cpuSeconds(n.child.pid));
  const brokerBefore = broker === null ? 0 : cpuSeconds(broker.child.pid);
  const started = performance.now();
  const published = await publishing();
  const publishSeconds = (performance.now() - started) / 1000;
  await sleep(500); // the last deliveries arrive
  const cpuPerNode = nodes.map((n, i) => round(cpuSeconds(n.child.pid) - cpuBefore[i]));
  const brokerCpuSeconds = broker === null ? null : round(cpuSeconds(broker.child.pid) - brokerBefore);
  const nodeCpuTotal = cpuPerNode.reduce((a, b) => a + b, 0);
  const deliveries = subs.reduce((n, s) => n + s.count, 0);
  const local = subs.filter((s) => s.node === publishTo).flatMap((s) => s.latencies);
  const remote = subs.filter((s) => s.node !== publishTo).flatMap((s) => s.latencies);
  return {
    published,
    deliveries,
    expected: published * subs.length,
    deliveriesPerSecond: Math.round(deliveries / publishSeconds),
    nodeCpuSeconds: round(nodeCpuTotal),
    cpuPerNode,
    brokerCpuSeconds,
    deliveriesPerCpuSecond: Math.round(deliveries / Math.max(nodeCpuTotal, 0.001)),
    latency: { local: summary(local), crossNode: remote.length > 0 ? summary(remote) : null },
  };
}

/**
 * A raw WebSocket subscriber. Every one counts its deliveries; one in
 * LATENCY_SAMPLE on each node also records latencies, so that the client (which shares
 * the machine) stays light at hundreds of thousands of deliveries a second.
 */
function subscribe(node, channel, sampled) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/app/${APP.key}?protocol=7&client=bench&version=1`, { perMessageDeflate: false });
    const sub = { ws, node, sampled, latencies: [], count: 0 };
    const onTick = (raw) => {
      if (raw.indexOf(TICK) === -1) return;
      sub.count++;
      if (!sub.sampled) return;
      // The payload carries the publish time; found without parsing the whole frame.
      const at = raw.indexOf(SENT_AT);
      if (at !== -1)
        sub.latencies.push(performance.timeOrigin + performance.now() - parseFloat(raw.toString('latin1', at + SENT_AT.length, at + SENT_AT.length + 24)));
    };
    ws.on('error', reject);
    ws.on('message', function handshake(raw) {
      const text = raw.toString();
      if (text.includes('pusher:connection_established')) {
        ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel } }));
      } else if (text.includes('subscription_succeeded')) {
        ws.off('message', handshake);
        ws.on('message', onTick);
        resolve(sub);
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
  return publishEvent(node.port, APP, { name: 'tick', channels: [channel], data: JSON.stringify({ t: performance.timeOrigin + performance.now() }) }, agent);
}

// ---- processes -----------------------------------------------------------------

function benchNode(extra) {
  const nodeArgs = PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : [];
  return startNode(['--apps', JSON.stringify([{ ...APP, name: 'bench' }]), ...extra], { nodeArgs });
}

async function waitForPeers(node, count) {
  for (let i = 0; i < 100; i++) {
    const body = await new Promise((resolve) =>
      http
        .get({ host: '127.0.0.1', port: node.port, path: '/cluster' }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve(text));
        })
        .on('error', () => resolve('{}')),
    );
    try {
      if ((JSON.parse(body).nodes ?? []).length >= count) return;
    } catch {}
    await sleep(100);
  }
  throw new Error('the nodes did not find each other');
}

// ---- report ----------------------------------------------------------------------

function report({ single, cluster }) {
  const ms = (v) => (v == null ? '-' : `${v.toFixed(2)} ms`);
  const pct = (v) => `${(v * 100).toFixed(0)}%`;
  const n = (v) => v.toLocaleString('en-US');
  console.log(`\nswitchboard cluster bench — node ${process.version}, ${SUBSCRIBERS} subscribers over the nodes, publishing through node A's HTTP API`);
  console.log(
    `command: node bench/cluster.mjs --adapter ${BROKER} --subscribers ${SUBSCRIBERS} --rate ${RATE} --load-rate ${LOAD_RATE} --in-flight ${IN_FLIGHT} --seconds ${SECONDS}\n`,
  );
  const phases = [
    ['light', `${RATE} publishes/s`],
    ['load', `${LOAD_RATE} publishes/s`],
    ['saturated', `${IN_FLIGHT} publishes in flight`],
  ];
  console.log('| phase | setup | p50 | p99 | deliveries/s | node CPU-s (broker) | deliveries per node-CPU-s | received/expected |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const [key, label] of phases) {
    const one = single[key];
    const two = cluster[key];
    console.log(
      `| ${label} | 1 node | ${ms(one.latency.local?.p50)} | ${ms(one.latency.local?.p99)} | ${n(one.deliveriesPerSecond)} | ${one.nodeCpuSeconds} | ${n(one.deliveriesPerCpuSecond)} | ${one.deliveries}/${one.expected} |`,
    );
    console.log(
      `| | 2 nodes + ${BROKER_NAME}, same node | ${ms(two.latency.local?.p50)} | ${ms(two.latency.local?.p99)} | ${n(two.deliveriesPerSecond)} (both) | ${two.cpuPerNode.join(' + ')} (${BROKER_NAME} ${two.brokerCpuSeconds}) | ${n(two.deliveriesPerCpuSecond)} (${pct(two.deliveriesPerCpuSecond / one.deliveriesPerCpuSecond)}) | ${two.deliveries}/${two.expected} |`,
    );
    console.log(`| | 2 nodes + ${BROKER_NAME}, cross-node | ${ms(two.latency.crossNode?.p50)} | ${ms(two.latency.crossNode?.p99)} | | | | |`);
  }
  const overhead = (key) => cluster[key].latency.crossNode.p50 - single[key].latency.local.p50;
  const perCpu = (key) => cluster[key].deliveriesPerCpuSecond / single[key].deliveriesPerCpuSecond;
  console.log(`\ncross-node p50 overhead over single node: ${ms(overhead('light'))} at ${RATE}/s (target < 2 ms), ${ms(overhead('load'))} at ${LOAD_RATE}/s`);
  console.log(`cluster deliveries per node-CPU-second vs single node, same load: ${pct(perCpu('load'))} (target >= 70%)`);
  console.log(
    `saturated: ${pct(perCpu('saturated'))} per node-CPU-second, ${pct(cluster.saturated.deliveriesPerSecond / single.saturated.deliveriesPerSecond)} of the deliveries/s (the client, ${BROKER_NAME} and the nodes share two cores; the rates differ, so this ratio is not like for like)`,
  );
  console.log(`\n${JSON.stringify({ single, cluster })}`);
}
