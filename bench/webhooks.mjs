#!/usr/bin/env node
// Webhook throughput and latency, through each queue driver, measured on this machine:
//   npm run build && node bench/webhooks.mjs [--drivers memory,redis,rabbitmq] [--rate 600]
//     [--seconds 10] [--sockets 50] [--redis-url redis://127.0.0.1:6379] [--amqp-url amqp://guest:guest@127.0.0.1:5672]
// For each driver: one node process (`switchboard start`) whose app sends every
// event type to a receiver in this process. Churn: --sockets raw WebSocket
// clients subscribe to fresh channels and leave them again, --rate subscribe +
// unsubscribe pairs per second, so each pair gives a channel_occupied now and a
// channel_vacated after the leave delay (set to 1 s here): 2 × rate webhook
// events per second. Reports events delivered per second over the run, latency
// from the transition to receipt (channel_occupied: from the subscribe frame
// leaving the client, so it includes the WebSocket hop; every event: from the
// batch's time_ms, the moment its first event was handed over, an upper bound
// for the batch's later events), requests per second, and the node's CPU
// (user + system, /proc) per 1,000 events. The 250 ms batch window is the default one.
import http from 'node:http';
import WebSocket from 'ws';
import { cpuSeconds, options, requireBuild, round, sleep, startNode, stopNode, summary } from './lib.mjs';

const args = options({
  drivers: 'memory,redis,rabbitmq',
  rate: 600, // subscribe/unsubscribe pairs per second
  seconds: 10,
  sockets: 50,
  'redis-url': 'redis://127.0.0.1:6379',
  'amqp-url': 'amqp://guest:guest@127.0.0.1:5672',
});
const DRIVERS = args.drivers.split(',');
const RATE = args.rate;
const SECONDS = args.seconds;
const SOCKETS = args.sockets;
const REDIS_URL = args['redis-url'];
const AMQP_URL = args['amqp-url'];
const LEAVE_DELAY_S = 1;
const APP = { id: 'bench-app', key: 'bench-key', secret: 'bench-secret' };
requireBuild();

// ---- the receiver ------------------------------------------------------------------
const received = { events: 0, requests: 0, sinceBatch: [], occupiedAt: new Map() };
const receiver = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const now = Date.now();
    res.end('{}');
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    received.requests++;
    for (const event of body.events) {
      received.events++;
      received.sinceBatch.push(now - body.time_ms);
      if (event.name === 'channel_occupied') received.occupiedAt.set(event.channel, now);
    }
  });
});
await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
const hookUrl = `http://127.0.0.1:${receiver.address().port}/hooks`;

const results = [];
for (const driver of DRIVERS) {
  const queueArgs =
    driver === 'redis'
      ? ['--webhook-queue', 'redis', '--webhook-queue-url', REDIS_URL]
      : driver === 'rabbitmq'
        ? ['--webhook-queue', 'rabbitmq', '--webhook-queue-url', AMQP_URL]
        : [];
  const apps = [
    {
      ...APP,
      webhooks: [
        {
          url: hookUrl,
          eventTypes: ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed', 'client_event', 'cache_miss', 'subscription_count'],
        },
      ],
    },
  ];
  const node = await startNode([
    '--apps',
    JSON.stringify(apps),
    '--webhook-leave-delay',
    String(LEAVE_DELAY_S),
    '--key-prefix',
    `whbench${process.pid}${driver}`,
    ...queueArgs,
  ]);
  results.push({ driver, ...(await churn(node)) });
  await stopNode(node);
}
receiver.close();
report(results);

async function churn(node) {
  const sockets = await Promise.all(Array.from({ length: SOCKETS }, () => openSocket(node.port)));
  received.events = 0;
  received.requests = 0;
  received.sinceBatch = [];
  received.occupiedAt.clear();
  const subscribedAt = new Map();
  const cpuBefore = cpuSeconds(node.pid);
  const started = Date.now();
  let sent = 0;
  let next = 0;
  // A fixed schedule (no coordinated omission): pairs are due at RATE per second.
  while (Date.now() - started < SECONDS * 1000) {
    const due = Math.floor(((Date.now() - started) / 1000) * RATE);
    for (; sent < due; sent++) {
      const channel = `churn-${sent}`;
      const ws = sockets[next++ % sockets.length];
      subscribedAt.set(channel, Date.now());
      ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel } }));
      ws.send(JSON.stringify({ event: 'pusher:unsubscribe', data: { channel } }));
    }
    await sleep(5);
  }
  const expected = sent * 2;
  const drainDeadline = Date.now() + (LEAVE_DELAY_S + 10) * 1000;
  while (received.events < expected && Date.now() < drainDeadline) await sleep(50);
  const wall = (Date.now() - started) / 1000;
  const cpu = cpuSeconds(node.pid) - cpuBefore;
  const occupied = [];
  for (const [channel, at] of received.occupiedAt) if (subscribedAt.has(channel)) occupied.push(at - subscribedAt.get(channel));
  for (const ws of sockets) ws.terminate();
  return {
    pairs: sent,
    expected,
    delivered: received.events,
    requests: received.requests,
    // Events arrive until the last vacate's delay has passed: the rate is over the churn time.
    eventsPerSecond: Math.round(received.events / SECONDS),
    requestsPerSecond: Math.round(received.requests / SECONDS),
    occupiedLatencyMs: summary(occupied),
    batchLatencyMs: summary(received.sinceBatch),
    nodeCpuSeconds: round(cpu),
    cpuMsPer1000Events: round((cpu * 1000 * 1000) / Math.max(1, received.events)),
    wallSeconds: round(wall),
  };
}

function openSocket(port) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/app/${APP.key}?protocol=7&client=js&version=8.4.0`);
    ws.once('message', () => resolve(ws));
    ws.once('error', reject);
  });
}

function report(rows) {
  console.log(
    `\nwebhooks: ${RATE} subscribe+unsubscribe pairs/s for ${SECONDS} s over ${SOCKETS} sockets (${2 * RATE} events/s offered), batch window 250 ms, leave delay ${LEAVE_DELAY_S} s\n`,
  );
  console.log(
    '| driver | events delivered / expected | events/s | requests/s | occupied→receipt p50 / p99 ms | batch time_ms→receipt p50 / p99 ms | node CPU-s | CPU-ms per 1,000 events |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const o = r.occupiedLatencyMs;
    const b = r.batchLatencyMs;
    console.log(
      `| ${r.driver} | ${r.delivered} / ${r.expected} | ${r.eventsPerSecond} | ${r.requestsPerSecond} | ${o ? `${o.p50} / ${o.p99}` : 'n/a'} | ${b ? `${b.p50} / ${b.p99}` : 'n/a'} | ${r.nodeCpuSeconds} | ${r.cpuMsPer1000Events} |`,
    );
  }
  console.log(`\n${JSON.stringify({ command: process.argv.slice(1).join(' '), rate: RATE, seconds: SECONDS, sockets: SOCKETS, rows })}`);
}
