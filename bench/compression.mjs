// permessage-deflate on vs off, interleaved in one run: S `ws` subscribers
// (all offering permessage-deflate, as browsers do) on one channel, R
// publishes per second of a ~2 KB JSON event for D seconds. Reports, per
// mode, the node's CPU seconds per million deliveries (from /proc, node
// pinned to CPU 0) and the bytes on the wire per delivery (what the
// subscribers' sockets read). The anchors harness cannot measure this: its
// clients never offer permessage-deflate and it does not count wire bytes.
//   npm run build && flock /tmp/bench.lock npm run bench:compression -- [--subs 500] [--rate 40] [--secs 10] [--rounds 2]
import http from 'node:http';
import WebSocket from 'ws';
import { cpuSeconds, options, publishEvent, round, sleep, startNode, stopNode } from './lib.mjs';

const { subs: SUBS, rate: RATE, secs: SECS, rounds: ROUNDS } = options({ subs: 500, rate: 40, secs: 10, rounds: 2 });
const APP = { id: 'app-id', key: 'app-key', secret: 'app-secret' };
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

/** ~2 KB of JSON shaped like a real event: repeated keys, varied values. */
function payload(seq) {
  const items = [];
  for (let i = 0; JSON.stringify(items).length < 1900; i++)
    items.push({
      id: seq * 100 + i,
      sku: `SKU-${(seq * 31 + i * 7) % 9973}`,
      price: (((seq + i) * 13) % 500) + 0.99,
      qty: (i * 3) % 17,
      status: i % 4 === 0 ? 'backordered' : 'in_stock',
    });
  return JSON.stringify({ seq, items });
}

function publish(port, data) {
  return publishEvent(port, APP, { name: 'update', channels: ['orders'], data }, agent);
}

async function runMode(mode) {
  // The node's default app is app-id / app-key / app-secret (APP).
  const node = await startNode(['--compression', mode], { cpus: '0' });
  const { port } = node;
  let received = 0;
  const sockets = [];
  for (let i = 0; i < SUBS; i += 50) {
    await Promise.all(
      Array.from(
        { length: Math.min(50, SUBS - i) },
        () =>
          new Promise((resolve, reject) => {
            const ws = new WebSocket(`ws://127.0.0.1:${port}/app/${APP.key}?protocol=7&client=js&version=8.4.0`, { perMessageDeflate: true });
            ws.on('message', (d) => {
              const text = String(d);
              if (text.includes('"update"')) received++;
              else if (text.includes('connection_established')) ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'orders' } }));
              else if (text.includes('subscription_succeeded')) resolve();
            });
            ws.on('error', reject);
            sockets.push(ws);
          }),
      ),
    );
  }
  const wireRead = () => sockets.reduce((a, ws) => a + ws._socket.bytesRead, 0);
  // Warm-up, not counted.
  for (let i = 0; i < RATE; i++) await publish(port, payload(i));
  await sleep(1000);
  const bytes0 = wireRead();
  const received0 = received;
  const cpu0 = cpuSeconds(node.pid);
  const start = performance.now();
  const total = RATE * SECS;
  const inflight = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    inflight.push(publish(port, payload(1000 + i)));
  }
  await Promise.all(inflight);
  const expected = received0 + total * SUBS;
  const deadline = performance.now() + 10_000;
  while (received < expected && performance.now() < deadline) await sleep(50);
  const cpu = cpuSeconds(node.pid) - cpu0;
  const deliveries = received - received0;
  const bytes = wireRead() - bytes0;
  for (const ws of sockets) ws.terminate();
  // Gone before the next mode is measured.
  await stopNode(node);
  return { mode, deliveries, lost: expected - received, cpuPerMillion: round((cpu / deliveries) * 1e6), wireBytesPerDelivery: round(bytes / deliveries) };
}

const results = [];
for (let r = 1; r <= ROUNDS; r++) {
  for (const mode of r % 2 === 1 ? ['off', 'deflate'] : ['deflate', 'off']) {
    const result = await runMode(mode);
    results.push({ round: r, ...result });
    console.log(JSON.stringify({ round: r, ...result }));
  }
}
for (let r = 1; r <= ROUNDS; r++) {
  const off = results.find((x) => x.round === r && x.mode === 'off');
  const on = results.find((x) => x.round === r && x.mode === 'deflate');
  console.log(
    `round ${r}: wire bytes off/deflate = ${round(off.wireBytesPerDelivery / on.wireBytesPerDelivery)}x fewer; CPU per delivery deflate/off = ${round(on.cpuPerMillion / off.cpuPerMillion)}x`,
  );
}
process.exit(0);
