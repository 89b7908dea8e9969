import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { addConfigOptions, optionHelp, valuePlaceholder } from '../../src/cli/start-options.js';
import { balancerOptions } from '../../src/balancer/config.js';
import { configOptions } from '../../src/config/options.js';

const dir = mkdtempSync(join(tmpdir(), 'switchboard-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    env,
  });
  return { code, stdout, stderr };
}

describe('switchboard config check', () => {
  it('prints the effective config from file, env and flags with secrets masked', async () => {
    const file = join(dir, 'check.yaml');
    writeFileSync(file, 'port: 7001\nmaxConnections: 5\napps:\n  - { id: a, key: key-a, secret: top-secret-a }\n');
    const result = await run(['config', 'check', '--config', file, '--max-connections', '9', '--tls-cert', 'c.pem', '--tls-key', 'k.pem'], {
      SWITCHBOARD_HOST: '127.0.0.1',
    });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const printed = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(printed).toMatchObject({ host: '127.0.0.1', port: 7001, maxConnections: 9, tlsCert: '****', tlsKey: '****' });
    expect(printed.apps).toEqual([expect.objectContaining({ id: 'a', key: 'key-a', secret: '****' })]);
    expect(result.stdout).not.toContain('top-secret-a');
    expect(result.stdout).not.toContain('k.pem');
  });

  it('masks appSecret given as flags', async () => {
    const result = await run(['config', 'check', '--app-id', 'x', '--app-key', 'y', '--app-secret', 'zzz-secret']);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('zzz-secret');
    expect(JSON.parse(result.stdout)).toMatchObject({ appSecret: '****', apps: [{ id: 'x', key: 'y', secret: '****' }] });
  });

  it('exits 2 with one `path: reason` line per invalid field', async () => {
    const result = await run(['config', 'check', '--port', '12abc'], { SWITCHBOARD_LOG_LEVEL: 'loud', SWITCHBOARD_TYPO: '1' });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines).toContain('port: expected a number, got "12abc" (from --port)');
    expect(lines).toContain('SWITCHBOARD_TYPO: unknown environment variable: no Switchboard option has this name');
    expect(lines.some((l) => l.startsWith('logLevel: '))).toBe(true);
  });

  it('exits 2 when the config file cannot be read', async () => {
    const result = await run(['config', 'check'], { SWITCHBOARD_CONFIG: join(dir, 'nope.json') });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${join(dir, 'nope.json')}: cannot read config file`);
  });
});

describe('switchboard usage errors', () => {
  it('exits 2 on an unknown flag, an unknown command and a missing flag value', async () => {
    const unknownFlag = await run(['config', 'check', '--prot', '1']);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toContain("unknown option '--prot'");
    expect((await run(['strat'])).code).toBe(2);
    expect((await run(['start', '--port'])).code).toBe(2);
  });

  it('exits 0 for --help, listing derived flags', async () => {
    const help = await run(['start', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--max-connections <number>');
    expect(help.stdout).toContain('SWITCHBOARD_MAX_CONNECTIONS');
  });

  // Commander wraps help to the terminal's width (at spaces only), so compare with whitespace collapsed.
  const flat = (text: string): string => text.replace(/\s+/g, ' ');

  it('start --help gives every option its schema description, default and env name', async () => {
    const help = await run(['start', '--help']);
    expect(help.code).toBe(0);
    const text = flat(help.stdout);
    for (const option of configOptions) {
      expect(option.description.length, option.key).toBeGreaterThan(0);
      expect(text, option.key).toContain(flat(`--${option.flag} ${valuePlaceholder(option)} ${optionHelp(option)}`));
    }
    expect(text).toContain(
      flat(
        '--max-connections <number> Connections on this node across all apps; 0 = the open-file limit minus `fdHeadroom` (unlimited where that limit cannot be read). Over it: close 4100, and `/ready` answers 503. (default: 0, env: SWITCHBOARD_MAX_CONNECTIONS)',
      ),
    );
    expect(text).toContain('(default: the development app, env: SWITCHBOARD_APPS)');
    expect(text).toContain('(env: SWITCHBOARD_TLS_CERT)');
  });

  it('balance --help gives every option its schema description, default and env name', async () => {
    const help = await run(['balance', '--help']);
    expect(help.code).toBe(0);
    const text = flat(help.stdout);
    for (const option of balancerOptions) expect(text, option.key).toContain(flat(optionHelp(option)));
    expect(text).toContain(
      flat("--slow-start <number> Seconds over which a newly healthy backend's share ramps up; 0 = off. (default: 60, env: SWITCHBOARD_BALANCER_SLOW_START)"),
    );
  });
});

describe('switchboard start', () => {
  it('exits 2 with the reason before starting a node when config is bad', async () => {
    const badFlag = await run(['start', '--port', '70000', '--host', '127.0.0.1']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/^port: .*65535.*\(from --port\)\n$/);
    const badEnv = await run(['start', '--port', '0'], { SWITCHBOARD_APPS: 'not json' });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toContain('apps: must be a JSON array');
  });
});

describe('addConfigOptions', () => {
  it('stores every flag under its schema key', () => {
    const command = addConfigOptions(new Command('t').exitOverride());
    const args = configOptions.flatMap((o) => (o.kind === 'boolean' ? [`--${o.flag}`] : [`--${o.flag}`, 'v']));
    command.parse(args, { from: 'user' });
    expect(Object.keys(command.opts()).sort()).toEqual(configOptions.map((o) => o.key).sort());
  });
});
