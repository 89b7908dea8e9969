#!/usr/bin/env node
// App store cost on the connect path, and what unknown keys cost the database:
//   npm run build && flock /tmp/bench.lock node bench/apps.mjs [--connections 2000] [--concurrency 50]
//     [--rounds 5] [--unknown 10000] [--pg-url postgres://postgres@127.0.0.1:5432]
// Two node processes (`switchboard start`, both pinned to core 1 when taskset
// exists, clients on core 0): one with the static store (the app from flags),
// one with the postgres store (the same app in a database this script creates
// and drops, cache warmed first). Each round measures both, in alternating
// order; a measurement opens --connections WebSockets, --concurrency at a
// time, counting those that got connection_established, and the rate is
// connections per second of wall time. The result is the median over rounds
// of the round's postgres/static ratio (a shared machine's noise moves both
// halves of a round together), with the median rates beside it. The database's query counter
// (switchboard_app_store_queries_total, scraped from /metrics) is read around
// each phase: known key while cached (expected 0), --unknown attempts with as
// many distinct unknown keys (expected one query per key), the same keys again
// within the negative TTL (expected 0), and 10 concurrent attempts per key for
// 1,000 fresh unknown keys (single-flight: expected one per key).
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import WebSocket from 'ws';
import { CLI, median, options, requireBuild, round, startNode, stopNode } from './lib.mjs';

const args = options({ connections: 500, concurrency: 50, rounds: 20, unknown: 10_000, 'pg-url': 'postgres://postgres@127.0.0.1:5432' });
const CONNECTIONS = args.connections;
const CONCURRENCY = args.concurrency;
const ROUNDS = args.rounds;
const UNKNOWN = args.unknown;
const PG_ROOT = args['pg-url'];
const APP = { id: 'bench-app', key: 'bench-key', secret: 'bench-secret' };
requireBuild();

const dbName = `sb_bench_apps_${process.pid}`;
const admin = new pg.Client({ connectionString: `${PG_ROOT}/postgres` });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const dbUrl = `${PG_ROOT}/${dbName}`;

function cli(argv) {
  try {
    execFileSync(process.execPath, [CLI, ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new Error(`switchboard ${argv.join(' ')}: ${err.stderr}`);
  }
}

const nodes = [];
async function nodePort(extra) {
  // Both nodes on the same core (they are measured in turn), the clients on the other.
  const node = await startNode(extra, { cpus: '1' });
  nodes.push(node);
  return node.port;
}

/** Open `total` connections, `concurrency` at a time; resolves with connections per second (all closed after). */
async function connectRate(port, key, total, concurrency) {
  const sockets = [];
  let next = 0;
  let refused = 0;
  const started = performance.now();
  async function worker() {
    while (next < total) {
      next++;
      const ws = new WebSocket(`ws://127.0.0.1:${port}/app/${key}?protocol=7`);
      const ok = await new Promise((resolve) => {
        ws.once('message', (d) => resolve(String(d).includes('connection_established')));
        ws.once('close', () => resolve(false));
        ws.once('error', () => resolve(false));
      });
      if (ok) sockets.push(ws);
      else refused++;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise((r) => {
          ws.once('close', r);
          ws.close();
        }),
    ),
  );
  return { rate: sockets.length / seconds, refused };
}

/** Attempts with the given keys, `concurrency` at a time; each must be refused with 4001. */
async function unknownAttempts(port, keys, concurrency) {
  let next = 0;
  let wrong = 0;
  async function worker() {
    while (next < keys.length) {
      const key = keys[next++];
      const ws = new WebSocket(`ws://127.0.0.1:${port}/app/${key}?protocol=7`);
      const code = await new Promise((resolve) => ws.once('close', resolve));
      if (code !== 4001) wrong++;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return wrong;
}

async function queries(port) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('switchboard_app_store_queries_total{') && !line.includes('op="list"')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

try {
  const store = ['--app-store', 'postgres', '--app-store-url', dbUrl];
  cli(['apps', 'migrate', ...store]);
  cli(['apps', 'create', '--id', APP.id, '--key', APP.key, '--secret', APP.secret, ...store]);
  const staticPort = await nodePort(['--app-id', APP.id, '--app-key', APP.key, '--app-secret', APP.secret]);
  const pgPort = await nodePort([...store, '--app-cache-ttl', '3600', '--app-cache-negative-ttl', '600']);
  await connectRate(pgPort, APP.key, 10, 1); // warm the cache
  await connectRate(staticPort, APP.key, 10, 1);
  // One uncounted round each: both JITs warm before the first measured one.
  await connectRate(staticPort, APP.key, CONNECTIONS, CONCURRENCY);
  await connectRate(pgPort, APP.key, CONNECTIONS, CONCURRENCY);

  const rates = { static: [], postgres: [] };
  const knownBefore = await queries(pgPort);
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which goes first, so neither always runs on a warmer machine.
    const order = r % 2 === 0 ? ['static', 'postgres'] : ['postgres', 'static'];
    for (const name of order) {
      const result = await connectRate(name === 'static' ? staticPort : pgPort, APP.key, CONNECTIONS, CONCURRENCY);
      if (result.refused > 0) throw new Error(`${name}: ${result.refused} connections refused`);
      rates[name].push(result.rate);
    }
  }
  const knownQueries = (await queries(pgPort)) - knownBefore;

  const keys = Array.from({ length: UNKNOWN }, (_, i) => `unknown-${process.pid}-${i}`);
  const q0 = await queries(pgPort);
  const wrong1 = await unknownAttempts(pgPort, keys, 100);
  const q1 = await queries(pgPort);
  const wrong2 = await unknownAttempts(pgPort, keys, 100);
  const q2 = await queries(pgPort);
  const burstKeys = Array.from({ length: 1000 }, (_, i) => `burst-${process.pid}-${i}`);
  const wrong3 = await unknownAttempts(
    pgPort,
    burstKeys.flatMap((k) => Array.from({ length: 10 }, () => k)),
    200,
  );
  const q3 = await queries(pgPort);

  const result = {
    connectRate: {
      connections: CONNECTIONS,
      concurrency: CONCURRENCY,
      rounds: ROUNDS,
      staticMedian: round(median(rates.static)),
      postgresMedian: round(median(rates.postgres)),
      ratioMedianOfRounds: round(median(rates.postgres.map((p, i) => p / rates.static[i]))),
      ratioOfMedians: round(median(rates.postgres) / median(rates.static)),
      queriesForKnownKeyWhileCached: knownQueries,
    },
    unknownKeys: {
      attempts: UNKNOWN,
      distinctKeys: UNKNOWN,
      queries: q1 - q0,
      refusedOtherThan4001: wrong1,
      sameKeysAgainQueries: q2 - q1,
      sameKeysAgainWrong: wrong2,
      concurrentBurst: { keys: 1000, attemptsPerKey: 10, queries: q3 - q2, wrong: wrong3 },
    },
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  // Gone before the database is dropped.
  await Promise.all(nodes.map(stopNode));
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
}
