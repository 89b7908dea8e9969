import { readFileSync } from 'node:fs';

/**
 * The process's soft open-file limit (`ulimit -n`), read from /proc/self/limits:
 * Node has no getrlimit. Null where it cannot be read (not Linux) or is unlimited.
 */
export function readOpenFileLimit(limitsText?: string): number | null {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return null;
    }
  }
  const line = text.split('\n').find((l) => l.startsWith('Max open files'));
  if (line === undefined) return null;
  const soft = line.slice('Max open files'.length).trim().split(/\s+/)[0];
  if (soft === undefined || !/^\d+$/.test(soft)) return null;
  return Number(soft);
}

/** Where the node's connection limit came from, for the logs and `/ready`. */
export interface ConnectionLimit {
  /** Connections this node admits; 0 = no limit. */
  readonly max: number;
  readonly source: 'maxConnections' | 'open-file limit' | 'none';
  readonly openFiles: number | null;
}

/**
 * The node's connection limit: `maxConnections` when set; otherwise the
 * open-file limit minus `fdHeadroom` descriptors, which stay free for the
 * HTTP API, health checks, broker links and the sockets being refused with
 * 4100 (each takes a descriptor until its close handshake ends). Without a
 * readable open-file limit there is none.
 */
export function connectionLimit(config: { maxConnections: number; fdHeadroom: number }, openFiles: number | null = readOpenFileLimit()): ConnectionLimit {
  if (config.maxConnections > 0) return { max: config.maxConnections, source: 'maxConnections', openFiles };
  if (openFiles === null) return { max: 0, source: 'none', openFiles };
  // Even a tiny limit admits a few connections; a node that admits none is useless and would hide the misconfiguration.
  return { max: Math.max(1, openFiles - config.fdHeadroom), source: 'open-file limit', openFiles };
}

/**
 * The memory limit of this process's cgroup in bytes (v2 `memory.max`, else
 * v1 `memory.limit_in_bytes`); null when there is none (v1 reports "no limit"
 * as a huge number, treated alike).
 */
export function readCgroupMemoryLimit(read: (path: string) => string | null = readText): number | null {
  const v2 = read('/sys/fs/cgroup/memory.max');
  if (v2 !== null) return parseLimit(v2);
  const v1 = read('/sys/fs/cgroup/memory/memory.limit_in_bytes');
  if (v1 !== null) return parseLimit(v1);
  return null;
}

// cgroup v1 writes "no limit" as the page-rounded largest signed 64-bit value.
const NO_LIMIT_ABOVE = 2 ** 60;

function parseLimit(text: string): number | null {
  const value = text.trim();
  if (!/^\d+$/.test(value)) return null; // "max"
  const n = Number(value);
  return n > 0 && n < NO_LIMIT_ABOVE ? n : null;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}
