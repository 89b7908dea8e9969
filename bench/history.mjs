#!/usr/bin/env node
// Channel history: what it costs to publish with history on, and how fast a
// crowd of clients recovers what it missed, measured on this machine:
//   npm run build && flock /tmp/bench.lock node bench/history.mjs [--rounds 5]
//     [--subscribers 100] [--publishes 2000] [--clients 1000] [--missed 100]
//     [--redis-url redis://127.0.0.1:6379]
//
// 1. Publish cost. Three node processes (`switchboard start`, each pinned to
//    CPU 0 when taskset exists): history off, history in memory, history in
//    Redis. Each has --subscribers raw WebSocket clients on one channel. In
//    every round each node in turn gets --publishes API publishes (16 in
//    flight) and the round ends when every subscriber has every event; the
//    node's CPU (user + system, /proc) for the round is divided by the
//    publishes. Rounds interleave the three, so a busy neighbour hits all.
// 2. Recovery storm. For the memory and the Redis node: --clients raw
//    clients subscribe to 10 history channels, note their position, and
//    disconnect; --missed events are published to each channel; then all
//    reconnect at once, each subscribing with `recover`. Reported: time from
//    the first reconnect to the last client having `recovered: true` and all
//    its missed events, and the node's CPU meanwhile.
import http from 'node:http';
import WebSocket from 'ws';
import { cpuSeconds, hasTaskset, median, options, publishEvent, requireBuild, round, sleep, startNode } from './lib.mjs';

const args = options({ rounds: 5, subscribers: 100, publishes: 2000, clients: 1000, missed: 100, 'redis-url': 'redis://127.0.0.1:6379' });
const ROUNDS = args.rounds;
const SUBSCRIBERS = args.subscribers;
const PUBLISHES = args.publishes;
const CLIENTS = args.clients;
const MISSED = args.missed;
const REDIS_URL = args['redis-url'];
const IN_FLIGHT = 16;
const STORM_CHANNELS = 10;
const APP = { id: 'bench-app', key: 'bench-key', secret: 'bench-secret' };
requireBuild();

const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });

async function historyNode(variant) {
  const history = variant === 'off' ? [] : [{ pattern: 'bench-*', size: Math.max(1000, MISSED * 2), ttlSeconds: 600 }];
  const extra = variant === 'redis' ? ['--history-redis-url', REDIS_URL, '--key-prefix', `histbench${process.pid}`] : [];
  const { port, pid } = await startNode(['--apps', JSON.stringify([{ ...APP, history }]), ...extra], { cpus: '0' });
  return { variant, port, pid };
}

async function publish(node, channel, data) {
  const status = await publishEvent(node.port, APP, { name: 'msg', channels: [channel], data }, agent);
  if (status !== 200) throw new Error(`publish answered ${status === 0 ? 'nothing (request failed)' : status}`);
}

async function publishMany(node, channel, count) {
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < count) await publish(node, channel, `{"i":${next++}}`);
    }),
  );
}

/** A raw client counting the events of its channel; `onFrame` sees every parsed frame. */
function connect(node, onFrame) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/app/${APP.key}?protocol=7&client=js&version=8.4.0`);
    ws.on('message', (raw) => {
      const frame = JSON.parse(String(raw));
      if (frame.event === 'pusher:connection_established') resolve(ws);
      onFrame(frame);
    });
    ws.once('error', reject);
  });
}

async function waitFor(check, ms, what) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(5);
  }
}

// ---- 1. publish cost ----------------------------------------------------------------
const variants = ['off', 'memory', 'redis'];
const nodes = [];
for (const v of variants) nodes.push(await historyNode(v));
const received = new Map(nodes.map((n) => [n.variant, 0]));
for (const node of nodes) {
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const ws = await connect(node, (f) => {
      if (f.event === 'msg') received.set(node.variant, received.get(node.variant) + 1);
    });
    ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'bench-fanout' } }));
  }
}
await sleep(500);
const costs = new Map(variants.map((v) => [v, []]));
const walls = new Map(variants.map((v) => [v, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const node of nodes) {
    const target = received.get(node.variant) + PUBLISHES * SUBSCRIBERS;
    const cpu0 = cpuSeconds(node.pid);
    const t0 = performance.now();
    await publishMany(node, 'bench-fanout', PUBLISHES);
    await waitFor(() => received.get(node.variant) >= target, 60_000, `${node.variant} deliveries`);
    const wall = performance.now() - t0;
    costs.get(node.variant).push(((cpuSeconds(node.pid) - cpu0) * 1e6) / PUBLISHES);
    walls.get(node.variant).push(wall);
  }
}
const off = median(costs.get('off'));
console.log(`\n## Publish cost, ${SUBSCRIBERS} subscribers, ${PUBLISHES} API publishes per round, ${ROUNDS} rounds (medians)\n`);
console.log('| history | node CPU µs per publish | vs off | wall ms per round |');
console.log('|---|---|---|---|');
for (const v of variants)
  console.log(`| ${v} | ${round(median(costs.get(v)))} | ${round(median(costs.get(v)) / off)}× | ${Math.round(median(walls.get(v)))} |`);

// ---- 2. recovery storm ----------------------------------------------------------------
console.log(`\n## Recovery storm: ${CLIENTS} clients reconnect at once, each recovering ${MISSED} missed events\n`);
console.log('| history | all recovered after ms | node CPU s | recovered | missed events delivered |');
console.log('|---|---|---|---|---|');
for (const node of nodes.filter((n) => n.variant !== 'off')) {
  const tag = `bench-storm-${Date.now()}`;
  const positions = [];
  const first = [];
  for (let i = 0; i < CLIENTS; i++) {
    const channel = `${tag}-${i % STORM_CHANNELS}`;
    let resolveSub;
    const subscribed = new Promise((r) => (resolveSub = r));
    const ws = await connect(node, (f) => {
      if (f.event === 'pusher_internal:subscription_succeeded') resolveSub({ channel, offset: f.offset, epoch: f.epoch });
    });
    ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel } }));
    first.push(ws);
    positions.push(subscribed);
  }
  const points = await Promise.all(positions);
  for (const ws of first) ws.close();
  await sleep(300);
  for (let c = 0; c < STORM_CHANNELS; c++) await publishMany(node, `${tag}-${c}`, MISSED);
  await sleep(200);
  let done = 0;
  let recoveredCount = 0;
  let delivered = 0;
  const cpu0 = cpuSeconds(node.pid);
  const t0 = performance.now();
  const sockets = await Promise.all(
    points.map(async (point) => {
      let got = 0;
      const ws = await connect(node, (f) => {
        if (f.event === 'pusher_internal:subscription_succeeded') {
          if (f.recovered === true) recoveredCount++;
        } else if (f.event === 'msg') {
          delivered++;
          if (++got === MISSED) done++;
        }
      });
      ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel: point.channel, recover: { offset: point.offset, epoch: point.epoch } } }));
      return ws;
    }),
  );
  await waitFor(() => done === CLIENTS, 120_000, `${node.variant} storm`);
  const wall = performance.now() - t0;
  const cpu = cpuSeconds(node.pid) - cpu0;
  console.log(`| ${node.variant} | ${Math.round(wall)} | ${round(cpu)} | ${recoveredCount}/${CLIENTS} | ${delivered} |`);
  for (const ws of sockets) ws.close();
  await sleep(300);
}
console.log(`\n(taskset: ${hasTaskset ? 'node pinned to CPU 0' : 'not available'}; machine shared with other work)`);
process.exit(0);
