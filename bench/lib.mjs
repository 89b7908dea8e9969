// What the benchmark scripts share: child processes, free ports, CPU time
// from /proc, CPU pinning, and small statistics.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

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
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Spawn `cmd argv` (added to `children`, for killing on exit) and resolve
 * with the first output line matching `ready`.
 */
export function startProcess(cmd, argv, ready, children, ms = 15_000) {
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
    setTimeout(() => reject(new Error(`${cmd} did not start`)), ms).unref();
  });
}

/** p50, p99 and max of a list of numbers (null when empty). */
export function summary(values) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((x, y) => x - y);
  const at = (q) => round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
  return { p50: at(0.5), p99: at(0.99), max: round(sorted[sorted.length - 1]), samples: sorted.length };
}

export function round(v) {
  return Math.round(v * 1000) / 1000;
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** `--name value` pairs. */
export function parseArgs(list) {
  const out = {};
  for (let i = 0; i < list.length; i++) if (list[i].startsWith('--')) (out[list[i].slice(2)] = list[i + 1]), i++;
  return out;
}
