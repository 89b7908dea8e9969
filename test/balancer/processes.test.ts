import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Pusher from 'pusher';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../cluster/services.js';
import { NodeProcess, builtCliAvailable, CLI } from '../cluster/node-process.js';
import { connected, DEV_APP, pusherClient, type PusherJs } from '../helpers/node.js';
import { selfSignedPair } from '../helpers/tls.js';
import type { RunningNode } from '../../src/node.js';
import { backendsUp, openMany, startBalancer, until } from './helpers.js';

const built = builtCliAvailable();
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function haproxyBinary(): string | null {
  const found = spawnSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : null;
}

describe.skipIf(!built)('balancer with node processes', () => {
  it('kill -9 of a backend: its pusher-js clients reconnect through the balancer and keep receiving', { timeout: 40_000 }, async () => {
    const started = await Promise.all([0, 1].map(() => NodeProcess.start([])));
    for (const s of started) cleanups.push(() => s.proc.kill());
    const balancer = await startBalancer({ backend: started.map((s) => `127.0.0.1:${s.port}`), algorithm: 'round-robin', ejectAfterFailures: 1 });
    cleanups.push(() => balancer.stop());
    await backendsUp(balancer);

    const clients: PusherJs[] = Array.from({ length: 10 }, () => pusherClient({ port: balancer.port } as RunningNode));
    for (const c of clients) cleanups.push(() => c.disconnect());
    await Promise.all(clients.map((c) => connected(c)));
    const got = clients.map(() => [] as number[]);
    await Promise.all(
      clients.map(
        (c, i) =>
          new Promise<void>((resolve) => {
            const channel = c.subscribe('news');
            channel.bind('pusher:subscription_succeeded', () => resolve());
            channel.bind('item', (d: { n: number }) => got[i]!.push(d.n));
          }),
      ),
    );
    const victim = started[0]!;
    await victim.proc.kill('SIGKILL');
    // Every client ends up on the survivor, resubscribed (pusher-js does that itself).
    await until(
      () => balancer.set.all().find((b) => b.port === victim.port)!.connections === 0 && balancer.set.total === 10,
      20_000,
      'clients back through the balancer',
    );
    await until(() => clients.every((c) => c.connection.state === 'connected' && c.channel('news')?.subscribed === true), 10_000, 'resubscribed');
    const sdk = new Pusher({ appId: DEV_APP.id, key: DEV_APP.key, secret: DEV_APP.secret, host: '127.0.0.1', port: String(balancer.port), useTLS: false });
    // The survivor holds every subscriber now; publishes through the balancer skip the dead node.
    for (let n = 1; n <= 3; n++) expect((await sdk.trigger('news', 'item', { n })).status).toBe(200);
    await until(() => got.every((g) => [1, 2, 3].every((n) => g.includes(n))), 5000, 'deliveries after the kill');
  });

  it('--workers 2 serves one port from two balancer processes; SIGTERM drains their tunnels over --drain-seconds', { timeout: 30_000 }, async () => {
    const { proc, port: nodePort } = await NodeProcess.start([]);
    cleanups.push(() => proc.kill());
    const listen = await freePort();
    const child = spawn(
      process.execPath,
      [
        CLI,
        'balance',
        '--host',
        '127.0.0.1',
        '--listen',
        String(listen),
        '--backend',
        `127.0.0.1:${nodePort}`,
        '--workers',
        '2',
        '--log-level',
        'info',
        '--health-fast-interval',
        '0.05',
        '--drain-seconds',
        '1',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    );
    await until(() => (output.match(/switchboard balancer listening/g) ?? []).length === 2, 15_000, `two workers listening: ${output.slice(-500)}`);
    const pids = new Set([...output.matchAll(/"pid":(\d+)[^\n]*switchboard balancer listening/g)].map((m) => m[1]));
    expect(pids.size).toBe(2);
    // Until the workers' first checks pass they are in panic mode and still route: connect either way.
    const sockets = await openMany(listen, 20, 5);
    expect(sockets.length).toBe(20);

    const closedAt: number[] = [];
    const signalled = performance.now();
    for (const ws of sockets) ws.once('close', () => closedAt.push(performance.now() - signalled));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await until(() => closedAt.length === 20, 3000, `all tunnels closed (${closedAt.length})`);
    closedAt.sort((a, b) => a - b);
    // Spread over the drain second, not all at once.
    expect(closedAt[19]! - closedAt[0]!).toBeGreaterThan(500);
  });

  it.skipIf(haproxyBinary() === null)('--print-haproxy renders a config haproxy -c accepts', () => {
    const haproxy = haproxyBinary()!;
    const dir = mkdtempSync(join(tmpdir(), 'sb-haproxy-'));
    try {
      // HAProxy reads the key from the crt file: one PEM with both.
      const pair = selfSignedPair(dir, 'balancer');
      const pem = join(dir, 'balancer.pem');
      writeFileSync(pem, `${readFileSync(pair.cert, 'utf8')}${readFileSync(pair.key, 'utf8')}`);
      for (const extra of [
        [],
        ['--algorithm', 'consistent-hash', '--hash-key', 'query'],
        ['--algorithm', 'least-connections', '--max-connections-per-backend', '100', '--proxy-protocol', 'true'],
        ['--tls-cert', pem, '--tls-key', pem],
        ['--internal-port', '9090'],
      ]) {
        const out = spawnSync(process.execPath, [CLI, 'balance', '--backend', '127.0.0.1:6001=5', '--backend', '[::1]:6002', '--print-haproxy', ...extra], {
          encoding: 'utf8',
        });
        expect(out.status, out.stderr).toBe(0);
        const file = join(dir, 'haproxy.cfg');
        writeFileSync(file, out.stdout);
        const check = spawnSync(haproxy, ['-c', '-f', file], { encoding: 'utf8' });
        expect(check.status, `${check.stdout}${check.stderr}\n${out.stdout}`).toBe(0);
        expect(out.stdout).toContain('option httpchk GET /ready');
        expect(out.stdout).toMatch(/timeout tunnel/);
        expect(out.stdout).toContain(extra[0] === '--tls-cert' ? `ssl crt ${pem}` : 'X-Forwarded-Proto http if !{ ssl_fc }');
        if (extra[0] === '--internal-port') expect(out.stdout).toContain('deny_status 404 unless { path_beg /app/ /apps/ }');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bad balancer options exit 2 with the field and the reason', () => {
    const out = spawnSync(process.execPath, [CLI, 'balance', '--algorithm', 'fastest'], {
      encoding: 'utf8',
      env: { ...process.env, SWITCHBOARD_BALANCER_LISTEN: 'abc' },
    });
    expect(out.status).toBe(2);
    expect(out.stderr).toMatch(/listen: expected a number/);
    expect(out.stderr).toMatch(/algorithm:/);
    const missing = spawnSync(process.execPath, [CLI, 'balance', '--discover', 'redis'], { encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/redisUrl: discover redis needs redisUrl/);
    const timeouts = spawnSync(process.execPath, [CLI, 'balance', '--backend', '127.0.0.1:1', '--request-timeout', '1', '--headers-timeout', '5'], {
      encoding: 'utf8',
    });
    expect(timeouts.status).toBe(2);
    expect(timeouts.stderr).toMatch(/headersTimeout: at most requestTimeout/);
    const halfTls = spawnSync(process.execPath, [CLI, 'balance', '--backend', '127.0.0.1:1', '--tls-cert', '/tmp/x.pem'], { encoding: 'utf8' });
    expect(halfTls.status).toBe(2);
    expect(halfTls.stderr).toMatch(/tlsCert: tlsCert and tlsKey go together/);
    const samePort = spawnSync(process.execPath, [CLI, 'balance', '--backend', '127.0.0.1:1', '--listen', '8080', '--internal-port', '8080'], {
      encoding: 'utf8',
    });
    expect(samePort.status).toBe(2);
    expect(samePort.stderr).toMatch(/internalPort: not the port of --listen/);
  });

  it('a TLS certificate that cannot be read stops the balancer at start with the path and the reason', () => {
    const out = spawnSync(
      process.execPath,
      [CLI, 'balance', '--listen', '0', '--backend', '127.0.0.1:1', '--tls-cert', '/nonexistent/cert.pem', '--tls-key', '/nonexistent/key.pem'],
      { encoding: 'utf8', timeout: 10_000 },
    );
    expect(out.status).toBe(1);
    expect(`${out.stdout}${out.stderr}`).toMatch(/cannot read the TLS certificate \/nonexistent\/cert\.pem/);
  });
});
