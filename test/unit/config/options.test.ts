import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configOptions, describeField, optionByKey, parseOptionText, toEnvName, toFlagName } from '../../../src/config/options.js';
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

  it("carries each option's schema description and the default as help shows it", () => {
    expect(option('maxConnections')).toMatchObject({
      description:
        'Connections on this node across all apps; 0 = the open-file limit minus `fdHeadroom` (unlimited where that limit cannot be read). Over it: close 4100, and `/ready` answers 503.',
      defaultText: '0',
    });
    expect(option('host').defaultText).toBe('"0.0.0.0"');
    expect(option('tlsCert').defaultText).toBeUndefined();
    expect(option('apps').defaultText).toBe('the development app');
    for (const o of configOptions) expect(o.description, o.key).toMatch(/\S/);
  });

  it('refuses an option without a description', () => {
    expect(() => describeField('bare', z.number().default(1))).toThrow('config option bare has no .describe() text');
    expect(describeField('inner', z.number().describe('d').default(1)).description).toBe('d');
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
