import { describe, expect, it } from 'vitest';
import { usesDevelopmentApp } from '../../../src/config/development-app.js';
import { loadConfig } from '../../../src/config/load.js';
import { maskSecrets } from '../../../src/config/mask.js';

describe('maskSecrets', () => {
  it('masks app secrets, appSecret and TLS values and leaves the rest', () => {
    const config = loadConfig({
      env: {},
      argv: { appId: 'a1', appKey: 'k1', appSecret: 'shh', tlsCert: '/etc/cert.pem', tlsKey: '/etc/key.pem' },
    });
    const masked = maskSecrets(config);
    expect(masked.appSecret).toBe('****');
    expect(masked.tlsCert).toBe('****');
    expect(masked.tlsKey).toBe('****');
    expect(masked.apps[0]).toMatchObject({ id: 'a1', key: 'k1', secret: '****' });
    expect(masked.port).toBe(config.port);
    expect(JSON.stringify(masked)).not.toContain('shh');
    expect(config.apps[0]?.secret).toBe('shh');
  });
});

describe('usesDevelopmentApp', () => {
  it('is true only while the published development credentials are accepted', () => {
    expect(usesDevelopmentApp(loadConfig({ env: {} }))).toBe(true);
    expect(usesDevelopmentApp(loadConfig({ env: {}, argv: { appId: 'a', appKey: 'k', appSecret: 's' } }))).toBe(false);
  });
});
