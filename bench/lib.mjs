// What the benchmark scripts share: their flags, the nodes and other child
// processes they start (killed when the script exits), free ports, CPU time
// from /proc, CPU pinning, and small statistics.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { basename } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** The built CLI the scripts start nodes from: they measure the compiled node, not the sources. */
export const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

/** Whether `taskset` can pin processes to CPUs here. */
export const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** `argv` run on `cpus` (e.g. '0'), when taskset exists. */
export const pinned = (cpus, argv) => (hasTaskset ? ['taskset', '-c', cpus, ...argv] : argv);

/** A port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** CPU seconds (user + system) a process has used so far: fields 14 and 15 of /proc/<pid>/stat. */
export function cpuSeconds(pid) {
  const { user, system } = cpuTimes(pid);
  return user + system;
}

/** A process's user and system (kernel) CPU seconds so far, from /proc. */
export function cpuTimes(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
}

/** Exit 2 with the fix when dist/ is missing (before anything imports from it). */
export function requireBuild() {
  if (existsSync(CLI)) return;
  console.error('dist/cli/main.js not found: run `npm run build` first');
  process.exit(2);
}

// Every process a script starts, killed (SIGKILL) when the script exits, however it exits.
const children = [];
function track(child) {
  if (children.length === 0) {
    process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));
    // Ctrl-C runs the exit handlers too (the default SIGINT exit skips them).
    process.on('SIGINT', () => process.exit(130));
  }
  children.push(child);
}

/**
 * Spawn `cmd argv` (killed when this script exits) and resolve with the
 * first output line matching `ready`; reject, with its last output lines,
 * if it exits or stays silent for `ms` first. Output after that is drained
 * unread (a full pipe would stall the child).
 */
export function startProcess(cmd, argv, ready, ms = 15_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    let buffer = '';
    const tail = [];
    const fail = (why) => reject(new Error(`${basename(cmd)} ${why}${tail.length > 0 ? `; its last output:\n${tail.join('\n')}` : ''}`));
    const onData = (chunk) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop();
      for (const line of lines) {
        if (ready.test(line)) {
          child.stdout.off('data', onData).resume();
          child.stderr.off('data', onData).resume();
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve({ child, line });
          return;
        }
        tail.push(line);
        if (tail.length > 20) tail.shift();
      }
    };
    const onExit = (code, signal) => {
      clearTimeout(timer);
      fail(`exited (${signal ?? code}) before it was ready`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', onExit);
    child.once('error', (err) => fail(`could not start: ${err.message}`));
    const timer = setTimeout(() => fail(`was not ready within ${ms} ms`), ms);
    timer.unref();
  });
}

/**
 * Start a node (`switchboard start` on 127.0.0.1, a port the OS picks,
 * log level info: the "listening" line is the ready signal) with `extra`
 * flags. `cpus`: pin it there when taskset exists; `nodeArgs`: flags for
 * node itself (e.g. --cpu-prof). Resolves with the child, its pid and port.
 */
export async function startNode(extra = [], { cpus, nodeArgs = [] } = {}) {
  requireBuild();
  const argv = [process.execPath, ...nodeArgs, CLI, 'start', '--host', '127.0.0.1', '--port', '0', '--log-level', 'info', ...extra];
  const [cmd, ...rest] = cpus === undefined ? argv : pinned(cpus, argv);
  const { child, line } = await startProcess(cmd, rest, /"msg":"switchboard node listening"/);
  return { child, pid: child.pid, port: JSON.parse(line).port };
}

/** SIGTERM a node from startNode (it drains and exits; a CPU profile is written only then); resolves once it has exited. */
export async function stopNode(node) {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  const exited = new Promise((r) => node.child.once('exit', r));
  node.child.kill('SIGTERM');
  await exited;
}

let signApiRequest = null;

/**
 * POST one event (`{ name, channels, data }`) to a node's HTTP API, signed
 * for `app` ({ id, key, secret }) by the product's own signer, through
 * `agent` (keep-alive: a bench publishes thousands). Resolves with the HTTP
 * status, 0 when the request failed.
 */
export async function publishEvent(port, app, event, agent) {
  signApiRequest ??= (requireBuild(), (await import('../dist/protocol/signatures.js')).signApiRequest);
  const body = JSON.stringify(event);
  const path = `/apps/${app.id}/events`;
  const query = signApiRequest('POST', path, {}, body, app, Date.now() / 1000);
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: `${path}?${query}`,
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** p50, p99 and max of a list of numbers (null when empty). */
export function summary(values) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((x, y) => x - y);
  const at = (q) => round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
  return { p50: at(0.5), p99: at(0.99), max: round(sorted[sorted.length - 1]), samples: sorted.length };
}

/** The median of the numbers in `values` (others skipped; the mean of the middle two for an even count), NaN when there are none. */
export function median(values) {
  const s = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function round(v) {
  return Math.round(v * 1000) / 1000;
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The script's flags, read against `defaults` (flag name → default): a
 * number default makes `--name value` numeric, a boolean one makes `--name`
 * a switch, an array one makes `--name value` repeatable, `undefined` an
 * optional string. An unknown flag, a flag without its value, or a numeric
 * flag that is not a number exits 2 with the message and the usage line.
 */
export function options(defaults, argv = process.argv.slice(2)) {
  const usage = () =>
    `usage: node bench/${basename(process.argv[1] ?? 'script')} ${Object.entries(defaults)
      .map(([name, value]) =>
        typeof value === 'boolean'
          ? `[--${name}]`
          : Array.isArray(value)
            ? `[--${name} VALUE ...]`
            : `[--${name}${value === undefined ? ' VALUE' : ` ${value}`}]`,
      )
      .join(' ')}`;
  const fail = (message) => {
    console.error(`${message}\n${usage()}`);
    process.exit(2);
  };
  const kinds = Object.fromEntries(
    Object.entries(defaults).map(([name, value]) => [
      name,
      typeof value === 'boolean' ? { type: 'boolean' } : Array.isArray(value) ? { type: 'string', multiple: true } : { type: 'string' },
    ]),
  );
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: kinds, strict: true }));
  } catch (err) {
    fail(err.message);
  }
  const out = {};
  for (const [name, fallback] of Object.entries(defaults)) {
    const given = values[name];
    if (given === undefined) out[name] = fallback;
    else if (typeof fallback !== 'number') out[name] = given;
    else if (given.trim() === '' || !Number.isFinite(Number(given))) fail(`--${name} must be a number, got ${JSON.stringify(given)}`);
    else out[name] = Number(given);
  }
  return out;
}
