import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, SERVICES_REQUIRED } from '../cluster/services.js';

/**
 * A private RabbitMQ node for tests that kill or restart the broker, never
 * the machine's shared one: its own node name, AMQP and distribution ports
 * (free, loopback only), data and log directories, an empty plugin list (so
 * no management plugin) and its own HOME (its own Erlang cookie). It runs
 * the broker's start script directly, as the current user: the Debian
 * wrapper in /usr/sbin would switch to the rabbitmq user and write to
 * /var/log/rabbitmq. It registers with the machine's epmd, which is shared
 * by node name, so no second epmd is left behind.
 */
const RABBITMQ_SERVER = ['/usr/lib/rabbitmq/bin/rabbitmq-server', '/usr/local/sbin/rabbitmq-server'].find((p) => existsSync(p)) ?? null;

export function rabbitAvailable(): boolean {
  if (RABBITMQ_SERVER !== null) return true;
  if (SERVICES_REQUIRED) throw new Error('rabbitmq-server not found and SWITCHBOARD_REQUIRE_SERVICES=1');
  console.warn('[webhook queue tests] rabbitmq-server not found: skipping the private-broker suite');
  return false;
}

export class RabbitProcess {
  private child: ChildProcess | null = null;
  private output = '';
  private readonly dir = mkdtempSync(join(tmpdir(), 'switchboard-rabbit-'));
  private readonly nodeName = `sbtest${process.pid}x${Math.random().toString(36).slice(2, 8)}@localhost`;

  private constructor(
    readonly port: number,
    private readonly distPort: number,
  ) {
    writeFileSync(join(this.dir, 'rabbitmq.conf'), `listeners.tcp.1 = 127.0.0.1:${port}\n`);
    writeFileSync(join(this.dir, 'enabled_plugins'), '[].\n');
    writeFileSync(join(this.dir, 'rabbitmq-env.conf'), '');
  }

  static async start(): Promise<RabbitProcess> {
    const broker = new RabbitProcess(await freePort(), await freePort());
    try {
      await broker.restart();
    } catch (err) {
      await broker.stop();
      throw err;
    }
    return broker;
  }

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  /** Start (again, same name, ports and data); resolves once it accepts clients. */
  async restart(timeoutMs = 45_000): Promise<void> {
    if (this.child !== null) return;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOME: this.dir,
      RABBITMQ_NODENAME: this.nodeName,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_CONFIG_FILE: join(this.dir, 'rabbitmq.conf'),
      RABBITMQ_CONF_ENV_FILE: join(this.dir, 'rabbitmq-env.conf'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(this.dir, 'enabled_plugins'),
      RABBITMQ_PLUGINS_EXPAND_DIR: join(this.dir, 'plugins'),
      RABBITMQ_MNESIA_BASE: join(this.dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(this.dir, 'log'),
      RABBITMQ_PID_FILE: join(this.dir, 'rabbit.pid'),
      RABBITMQ_LOGS: '-',
      // The distribution listener on loopback too (it defaults to every interface).
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    };
    this.output = '';
    // Its own process group, so a kill reaches the Erlang VM and its helpers (and nothing else).
    const child = spawn(RABBITMQ_SERVER!, [], { env, cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`rabbitmq not ready after ${timeoutMs} ms: ${this.output.slice(-1500)}`)), timeoutMs);
      const onData = (chunk: Buffer): void => {
        this.output = (this.output + chunk.toString()).slice(-20_000);
        if (this.output.includes('Server startup complete')) {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve();
        }
      };
      const onExit = (code: number | null): void => fail(new Error(`rabbitmq exited (${code}): ${this.output.slice(-1500)}`));
      const fail = (err: Error): void => {
        clearTimeout(timer);
        void this.kill().then(() => reject(err));
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', onExit);
    });
  }

  /** SIGKILL the broker's process group, as a crash. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    this.child = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
