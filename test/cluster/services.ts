import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Real redis-server / nats-server processes for the cluster tests, each on a
 * free loopback port (never the shared 6379 / 4222), killed by the tests.
 */

export const REDIS_BINARY = findBinary(['redis-server'], ['/usr/bin/redis-server', '/usr/local/bin/redis-server']);
export const NATS_BINARY = findBinary(['nats-server'], ['/usr/sbin/nats-server', '/usr/local/bin/nats-server', '/usr/bin/nats-server']);

/** When set, a missing binary fails the suite instead of skipping it. */
export const SERVICES_REQUIRED = process.env.SWITCHBOARD_REQUIRE_SERVICES === '1';

function findBinary(names: string[], candidates: string[]): string | null {
  for (const path of candidates) if (existsSync(path)) return path;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    for (const name of names) if (dir !== '' && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** Whether to run a suite that needs `binary`; fails loudly when services are required and it is missing. */
export function serviceAvailable(binary: string | null, what: string): boolean {
  if (binary !== null) return true;
  if (SERVICES_REQUIRED) throw new Error(`${what} not found and SWITCHBOARD_REQUIRE_SERVICES=1`);
  console.warn(`[cluster tests] ${what} not found: skipping its suite (set SWITCHBOARD_REQUIRE_SERVICES=1 to fail instead)`);
  return false;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A broker process that can be killed and started again on the same port. */
export class BrokerProcess {
  private child: ChildProcess | null = null;
  private readonly dataDir = mkdtempSync(join(tmpdir(), 'switchboard-broker-'));

  private constructor(
    readonly kind: 'redis' | 'nats',
    readonly port: number,
  ) {}

  static async start(kind: 'redis' | 'nats'): Promise<BrokerProcess> {
    const broker = new BrokerProcess(kind, await freePort());
    await broker.restart();
    return broker;
  }

  get url(): string {
    return `${this.kind}://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Start (again) on the same port; resolves once it accepts clients. */
  async restart(): Promise<void> {
    if (this.child !== null) return;
    const [binary, args, readyLine] =
      this.kind === 'redis'
        ? [
            REDIS_BINARY!,
            ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dataDir],
            'Ready to accept connections',
          ]
        : [NATS_BINARY!, ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.dataDir], 'Server is ready'];
    // Bounded: a few tries in case the port is briefly still held after a kill.
    let lastError: Error | null = null;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        this.child = await spawnUntil(binary, args, readyLine, 5000);
        return;
      } catch (err) {
        lastError = err as Error;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    throw lastError ?? new Error(`${this.kind} did not start`);
  }

  /** SIGKILL, as a crash. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    this.child = null;
    if (child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

function spawnUntil(binary: string, args: string[], readyLine: string, timeoutMs: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => fail(new Error(`${binary} not ready after ${timeoutMs} ms: ${output.slice(-500)}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes(readyLine)) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stderr!.off('data', onData);
        // Keep draining so a chatty server never blocks on a full pipe.
        child.stdout!.resume();
        child.stderr!.resume();
        resolve(child);
      }
    };
    const fail = (err: Error): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => fail(new Error(`${binary} exited with ${code}: ${output.slice(-500)}`)));
    child.once('error', fail);
  });
}

export const REDIS_CLI = findBinary(['redis-cli'], ['/usr/bin/redis-cli', '/usr/local/bin/redis-cli']);

/**
 * A real Redis Cluster: three `redis-server --cluster-enabled yes` masters on
 * free ports (client and bus ports both chosen free), joined with
 * `redis-cli --cluster create`, ready once every node reports cluster_state:ok.
 */
export class RedisClusterProcess {
  private readonly children: ChildProcess[] = [];
  private readonly dataDir = mkdtempSync(join(tmpdir(), 'switchboard-redis-cluster-'));
  readonly ports: number[] = [];

  /** `size` masters, each with `replicas` replicas (so that a master's death fails over). */
  static async start(size = 3, replicas = 0): Promise<RedisClusterProcess> {
    const cluster = new RedisClusterProcess();
    try {
      await cluster.boot(size, replicas);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** The seed-node URL the Redis adapter takes. */
  get url(): string {
    return `redis-cluster://${this.ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
  }

  private async boot(size: number, replicas: number): Promise<void> {
    for (let i = 0; i < size * (1 + replicas); i++) {
      const [port, busPort] = [await freePort(), await freePort()];
      const args = [
        '--port',
        String(port),
        '--cluster-port',
        String(busPort),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        '2000',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.dataDir,
        // A replica syncs at once (the default waits 5 s to batch replicas): one that never synced cannot take over.
        '--repl-diskless-sync-delay',
        '0',
      ];
      this.children.push(await spawnUntil(REDIS_BINARY!, args, 'Ready to accept connections', 5000));
      this.ports.push(port);
    }
    await run(REDIS_CLI!, ['--cluster', 'create', ...this.ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes'], 15000);
    const deadline = Date.now() + 10000;
    for (const port of this.ports) {
      while (!(await run(REDIS_CLI!, ['-p', String(port), 'cluster', 'info'], 2000)).includes('cluster_state:ok')) {
        if (Date.now() > deadline) throw new Error(`redis cluster node ${port} not ok after 10 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
      for (;;) {
        const replication = await run(REDIS_CLI!, ['-p', String(port), 'INFO', 'replication'], 2000);
        if (replication.includes('role:master') || replication.includes('master_link_status:up')) break;
        if (Date.now() > deadline) throw new Error(`redis cluster replica ${port} not in sync after 10 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** The port of the master that owns `key`'s slot now. */
  async masterFor(key: string): Promise<number> {
    const slot = Number((await run(REDIS_CLI!, ['-p', String(this.livePorts()[0]), 'CLUSTER', 'KEYSLOT', key], 2000)).trim());
    const nodes = await run(REDIS_CLI!, ['-p', String(this.livePorts()[0]), 'CLUSTER', 'NODES'], 2000);
    for (const line of nodes.trim().split('\n')) {
      const fields = line.split(' ');
      if (!fields[2]!.includes('master') || fields[2]!.includes('fail')) continue;
      for (const range of fields.slice(8)) {
        const [from, to = from] = range.split('-').map(Number);
        if (slot >= from! && slot <= to!) return Number(fields[1]!.split(':')[1]!.split('@')[0]);
      }
    }
    throw new Error(`no live master owns slot ${slot}`);
  }

  /** SIGKILL the server on `port`. */
  async kill(port: number): Promise<void> {
    const i = this.ports.indexOf(port);
    const child = this.children[i];
    if (child !== undefined) await killChild(child);
    this.dead.add(port);
  }

  private readonly dead = new Set<number>();

  private livePorts(): number[] {
    return this.ports.filter((p) => !this.dead.has(p));
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.splice(0).map(killChild));
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/**
 * Redis Sentinel watching one real master: `redis-server --sentinel` with a
 * config file of its own (Sentinel rewrites it), on a free port.
 */
export class RedisSentinelProcess {
  private child: ChildProcess | null = null;
  private readonly dataDir = mkdtempSync(join(tmpdir(), 'switchboard-sentinel-'));

  private constructor(
    readonly port: number,
    readonly masterName: string,
  ) {}

  /** `downAfterMs`: how long the master may be silent before Sentinel fails over (to a replica it found). */
  static async start(master: BrokerProcess, masterName = 'sbmaster', downAfterMs?: number): Promise<RedisSentinelProcess> {
    const sentinel = new RedisSentinelProcess(await freePort(), masterName);
    const config = join(sentinel.dataDir, 'sentinel.conf');
    const failover =
      downAfterMs === undefined
        ? []
        : [`sentinel down-after-milliseconds ${masterName} ${downAfterMs}`, `sentinel failover-timeout ${masterName} ${downAfterMs * 4}`];
    writeFileSync(
      config,
      [`port ${sentinel.port}`, 'bind 127.0.0.1', `dir ${sentinel.dataDir}`, `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 1`, ...failover, ''].join(
        '\n',
      ),
    );
    try {
      sentinel.child = await spawnUntil(REDIS_BINARY!, [config, '--sentinel'], '+monitor master', 5000);
    } catch (err) {
      rmSync(sentinel.dataDir, { recursive: true, force: true });
      throw err;
    }
    return sentinel;
  }

  /** The URL the Redis adapter takes to find the master through this Sentinel. */
  get url(): string {
    return `redis-sentinel://127.0.0.1:${this.port}/${this.masterName}`;
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child !== null) await killChild(child);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

/** Run a command to completion (bounded by `timeoutMs`); resolves with its stdout, rejects on a non-zero exit. */
function run(binary: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { timeout: timeoutMs }, (err, stdout, stderr) =>
      err ? reject(new Error(`${binary} ${args.join(' ')}: ${err.message} ${stderr}`)) : resolve(stdout),
    );
  });
}
