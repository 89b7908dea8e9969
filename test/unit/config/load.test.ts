import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, formatConfigError, type ConfigIssue } from '../../../src/config/errors.js';
import { loadConfig, type LoadConfigOptions } from '../../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'switchboard-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeTemp(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The issues loadConfig throws for these options (fails the test if it does not throw). */
function issuesOf(options: LoadConfigOptions): readonly ConfigIssue[] {
  try {
    loadConfig(options);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig layering: defaults < file < env < flags', () => {
  const json = writeTemp('layers.json', JSON.stringify({ port: 7100, maxConnections: 10, activityTimeout: 60, logLevel: 'warn' }));
  const yaml = writeTemp('layers.yaml', 'port: 7200\nmaxConnections: 20\nactivityTimeout: 61\nlogLevel: warn\n');

  for (const file of [json, yaml]) {
    it(`applies each layer over the one below (${file.endsWith('.json') ? 'JSON' : 'YAML'} file)`, () => {
      const config = loadConfig({
        configPath: file,
        env: { SWITCHBOARD_MAX_CONNECTIONS: '30', SWITCHBOARD_ACTIVITY_TIMEOUT: '62' },
        argv: { activityTimeout: '63' },
      });
      expect(config.port).toBe(file === json ? 7100 : 7200); // file over default
      expect(config.maxConnections).toBe(30); // env over file
      expect(config.activityTimeout).toBe(63); // flag over env
      expect(config.logLevel).toBe('warn');
      expect(config.pongTimeout).toBe(30); // default
    });
  }

  it('takes the file from SWITCHBOARD_CONFIG, and --config over it', () => {
    expect(loadConfig({ env: { SWITCHBOARD_CONFIG: yaml } }).port).toBe(7200);
    expect(loadConfig({ env: { SWITCHBOARD_CONFIG: yaml }, argv: { config: json } }).port).toBe(7100);
  });

  it('gives the development app its app defaults when no apps are configured', () => {
    const config = loadConfig({ env: {} });
    expect(config.apps).toHaveLength(1);
    expect(config.apps[0]).toMatchObject({ id: 'app-id', key: 'app-key', secret: 'app-secret', enabled: true, maxClientEventsPerSecond: 10 });
  });

  it('reads apps from SWITCHBOARD_APPS and fills app defaults', () => {
    const config = loadConfig({ env: { SWITCHBOARD_APPS: '[{"id":"1","key":"k1","secret":"s1"},{"id":"2","key":"k2","secret":"s2"}]' } });
    expect(config.apps.map((a) => a.key)).toEqual(['k1', 'k2']);
    expect(config.apps[1]?.enabled).toBe(true);
  });

  it('replaces apps with the single app given by appId/appKey/appSecret', () => {
    const file = writeTemp('apps.yaml', 'apps:\n  - { id: one, key: key-one, secret: s }\n  - { id: two, key: key-two, secret: s }\n');
    const config = loadConfig({ configPath: file, env: { SWITCHBOARD_APP_ID: 'solo', SWITCHBOARD_APP_KEY: 'solo-key' }, argv: { appSecret: 'solo-secret' } });
    expect(config.apps).toHaveLength(1);
    expect(config.apps[0]).toMatchObject({ id: 'solo', key: 'solo-key', secret: 'solo-secret', enabled: true });
  });

  it('deep-freezes the result', () => {
    const config = loadConfig({ env: {} });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.apps)).toBe(true);
    expect(Object.isFrozen(config.apps[0])).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
    // Each load gets its own default apps, so freezing one never leaks into the schema.
    expect(loadConfig({ env: {} }).apps).not.toBe(config.apps);
  });
});

describe('loadConfig errors name the field and the reason', () => {
  it('unknown key in the file, nested ones too', () => {
    const file = writeTemp('unknown.json', JSON.stringify({ prot: 1, apps: [{ id: 'a', key: 'k', secret: 's', colour: 'red' }] }));
    const issues = issuesOf({ configPath: file, env: {} });
    expect(issues).toContainEqual({ path: 'prot', message: `unknown key (from file ${file})` });
    expect(issues).toContainEqual({ path: 'apps.0.colour', message: `unknown key (from file ${file})` });
  });

  it('unknown SWITCHBOARD_* variable, but not the reserved ones', () => {
    const issues = issuesOf({ env: { SWITCHBOARD_PROT: '1', SWITCHBOARD_REQUIRE_SERVICES: '1', HOME: '/root' } });
    expect(issues).toEqual([{ path: 'SWITCHBOARD_PROT', message: expect.stringContaining('unknown environment variable') }]);
  });

  it('unknown flag', () => {
    expect(issuesOf({ env: {}, argv: { prot: '1' } })).toEqual([{ path: '--prot', message: 'unknown option' }]);
  });

  it('bad number', () => {
    expect(issuesOf({ env: { SWITCHBOARD_PORT: '12abc' } })).toEqual([{ path: 'port', message: 'expected a number, got "12abc" (from SWITCHBOARD_PORT)' }]);
    expect(issuesOf({ env: {}, argv: { port: '' } })).toEqual([{ path: 'port', message: 'expected a number, got "" (from --port)' }]);
  });

  it('number out of range, with where it came from', () => {
    const [issue] = issuesOf({ env: {}, argv: { port: '70000' } });
    expect(issue?.path).toBe('port');
    expect(issue?.message).toMatch(/65535.*\(from --port\)/);
  });

  it('bad enum', () => {
    const [issue] = issuesOf({ env: { SWITCHBOARD_LOG_LEVEL: 'loud' } });
    expect(issue?.path).toBe('logLevel');
    expect(issue?.message).toContain('"debug"');
    expect(issue?.message).toContain('(from SWITCHBOARD_LOG_LEVEL)');
  });

  it('unreadable or unparsable file', () => {
    const missing = join(dir, 'missing.yaml');
    expect(issuesOf({ configPath: missing, env: {} })).toEqual([{ path: missing, message: expect.stringMatching(/^cannot read config file: ENOENT/) }]);
    const broken = writeTemp('broken.yaml', 'port: [1,\n');
    expect(issuesOf({ configPath: broken, env: {} })[0]).toMatchObject({ path: broken, message: expect.stringContaining('cannot parse config file') });
    const brokenJson = writeTemp('broken.json', '{"port": 1,}');
    expect(issuesOf({ configPath: brokenJson, env: {} })[0]?.message).toContain('cannot parse config file');
    const toml = writeTemp('x.toml', 'port = 1');
    expect(issuesOf({ configPath: toml, env: {} })[0]?.message).toContain('use .json, .yaml or .yml');
    if (process.getuid?.() !== 0) {
      const locked = writeTemp('locked.json', '{}');
      chmodSync(locked, 0o000);
      expect(issuesOf({ configPath: locked, env: {} })[0]?.message).toContain('EACCES');
    }
  });

  it('tls cert without key', () => {
    expect(issuesOf({ env: {}, argv: { tlsCert: '/etc/cert.pem' } })).toEqual([
      { path: 'tlsCert', message: 'tlsCert and tlsKey go together (from --tls-cert)' },
    ]);
  });

  it('duplicate app keys', () => {
    const file = writeTemp('dup.yaml', 'apps:\n  - { id: a, key: same, secret: s }\n  - { id: b, key: same, secret: s }\n');
    expect(issuesOf({ configPath: file, env: {} })).toEqual([{ path: 'apps.1.key', message: `duplicate app key same (from file ${file})` }]);
  });

  it('SWITCHBOARD_APPS that is not a JSON array', () => {
    const [notJson] = issuesOf({ env: { SWITCHBOARD_APPS: 'app-id:app-key:app-secret' } });
    expect(notJson).toMatchObject({ path: 'apps', message: expect.stringContaining('must be a JSON array') });
    expect(issuesOf({ env: { SWITCHBOARD_APPS: '{"id":"a","key":"k","secret":"s"}' } })).toEqual([
      { path: 'apps', message: 'must be a JSON array (from SWITCHBOARD_APPS)' },
    ]);
  });

  it('only part of appId/appKey/appSecret, or a single app the app schema rejects', () => {
    expect(issuesOf({ env: { SWITCHBOARD_APP_ID: 'a' } })[0]?.path).toBe('appId');
    const [issue] = issuesOf({ env: {}, argv: { appId: 'a', appKey: 'has space', appSecret: 's' } });
    expect(issue).toMatchObject({ path: 'appKey', message: expect.stringContaining('letters, digits') });
  });

  it('reports every problem at once and formats one line per issue', () => {
    let error: unknown;
    try {
      loadConfig({ env: { SWITCHBOARD_PORT: 'x', SWITCHBOARD_NOPE: '1' }, argv: { logLevel: 'loud' } });
    } catch (err) {
      error = err;
    }
    const lines = formatConfigError(error).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines).toContain('SWITCHBOARD_NOPE: unknown environment variable: no Switchboard option has this name');
    expect(lines.some((l) => l.startsWith('port: expected a number'))).toBe(true);
    expect(lines.some((l) => l.startsWith('logLevel: '))).toBe(true);
  });
});

describe('webhook queue options', () => {
  it('refuses a redis webhook queue on a URL the queue cannot use, naming the field', () => {
    expect(() => loadConfig({ env: {}, argv: { webhookQueue: 'redis', adapter: 'redis', redisUrl: 'redis://a:1,redis://b:2' } })).toThrow(
      /redisUrl: the redis webhook queue needs one redis/,
    );
    expect(() => loadConfig({ env: {}, argv: { webhookQueue: 'redis', webhookQueueUrl: 'redis-cluster://a:1' } })).toThrow(/webhookQueueUrl/);
    expect(loadConfig({ env: {}, argv: { webhookQueue: 'redis', webhookQueueUrl: 'redis://127.0.0.1:6379' } }).webhookQueue).toBe('redis');
  });
});
