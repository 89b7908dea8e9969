import { describe, expect, it } from 'vitest';
import { configOptions, optionByKey, parseOptionText, toEnvName, toFlagName } from '../../../src/config/options.js';
import { configSchema } from '../../../src/config/schema.js';

function option(key: string) {
  const found = optionByKey(key);
  if (found === undefined) throw new Error(`no option ${key}`);
  return found;
}

describe('config options derived from the schema', () => {
  it('has one option per top-level schema key', () => {
    expect(configOptions.map((o) => o.key)).toEqual(Object.keys(configSchema.shape));
  });

  it('names flags and env variables mechanically', () => {
    expect(toFlagName('maxConnections')).toBe('max-connections');
    expect(toEnvName('maxConnections')).toBe('SWITCHBOARD_MAX_CONNECTIONS');
    expect(option('port')).toMatchObject({ flag: 'port', envName: 'SWITCHBOARD_PORT', kind: 'number', defaultValue: 6001 });
    expect(option('apps')).toMatchObject({ flag: 'apps', envName: 'SWITCHBOARD_APPS', kind: 'json-array' });
    expect(option('tlsCert')).toMatchObject({ flag: 'tls-cert', envName: 'SWITCHBOARD_TLS_CERT', kind: 'string' });
    expect(option('logLevel').kind).toBe('enum');
    expect(option('logLevel').choices).toContain('debug');
  });

  it('reads numbers strictly', () => {
    const port = option('port');
    expect(parseOptionText(port, '7001')).toEqual({ ok: true, value: 7001 });
    expect(parseOptionText(option('drainSeconds'), '0.5')).toEqual({ ok: true, value: 0.5 });
    for (const bad of ['12abc', '', ' 12', '0x10', 'Infinity', 'NaN']) {
      expect(parseOptionText(port, bad).ok, bad).toBe(false);
    }
  });

  it('reads booleans as true/false/1/0 only', () => {
    const flag = { key: 'x', flag: 'x', envName: 'SWITCHBOARD_X', kind: 'boolean' as const };
    expect(parseOptionText(flag, 'true')).toEqual({ ok: true, value: true });
    expect(parseOptionText(flag, '0')).toEqual({ ok: true, value: false });
    expect(parseOptionText(flag, 'yes')).toMatchObject({ ok: false });
  });

  it('requires a JSON array for array options', () => {
    expect(parseOptionText(option('apps'), '[]')).toEqual({ ok: true, value: [] });
    expect(parseOptionText(option('apps'), '{"id":"a"}')).toEqual({ ok: false, reason: 'must be a JSON array' });
    expect(parseOptionText(option('apps'), 'app-1')).toMatchObject({ ok: false, reason: expect.stringContaining('must be a JSON array') });
  });
});
