#!/usr/bin/env node
// The broker hop alone: publish in one process, receive in another, 600
// messages at 200/s, through the machine's NATS (127.0.0.1:4222) and Redis
// (127.0.0.1:6379), twice each. No Switchboard code runs: this is the floor
// under bench/cluster.mjs's cross-node latency.
//   node bench/broker-hop.mjs
// Clock: performance.timeOrigin + performance.now(), shared by processes on one machine.
import { fork } from 'node:child_process';
const role = process.argv[2] ?? 'main';
const kind = process.argv[3];
const now = () => performance.timeOrigin + performance.now();
if (role === 'sub') {
  const lat = [];
  if (kind === 'nats') {
    const { connect } = await import('nats');
    const c = await connect({ servers: 'nats://127.0.0.1:4222' });
    c.subscribe('xp', { callback: (_e, m) => lat.push(now() - Number(new TextDecoder().decode(m.data))) });
    await c.flush();
  } else {
    const { Redis } = await import('ioredis');
    const s = new Redis();
    await s.subscribe('xp');
    s.on('message', (_c, m) => lat.push(now() - Number(m)));
  }
  process.send('ready');
  process.on('message', () => {
    lat.sort((a, b) => a - b);
    process.send({ p50: lat[lat.length >> 1], p99: lat[Math.floor(lat.length * 0.99)], n: lat.length });
    setTimeout(() => process.exit(0), 50);
  });
} else {
  for (const k of ['nats', 'redis', 'nats', 'redis']) {
    const child = fork(new URL(import.meta.url).pathname, ['sub', k]);
    await new Promise((r) => child.once('message', r));
    let pub;
    if (k === 'nats') {
      const { connect } = await import('nats');
      const c = await connect({ servers: 'nats://127.0.0.1:4222' });
      pub = (s) => c.publish('xp', new TextEncoder().encode(s));
    } else {
      const { Redis } = await import('ioredis');
      const r = new Redis();
      pub = (s) => r.publish('xp', s);
    }
    for (let i = 0; i < 600; i++) {
      pub(String(now()));
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 300));
    child.send('done');
    const res = await new Promise((r) => child.once('message', r));
    console.log(k, 'p50', res.p50.toFixed(3), 'p99', res.p99.toFixed(3), 'n', res.n);
  }
  process.exit(0);
}
