import { describe, expect, it } from 'vitest';
import { matchRoute } from '../../../src/api/routes.js';

describe('matchRoute', () => {
  it('matches every API route and names its parameters', () => {
    expect(matchRoute('/apps/1/events')).toMatchObject({ ok: true, route: { name: 'events', method: 'POST' }, params: { appId: '1' } });
    expect(matchRoute('/apps/1/batch_events')).toMatchObject({ ok: true, route: { name: 'batchEvents' } });
    expect(matchRoute('/apps/1/channels')).toMatchObject({ ok: true, route: { name: 'channels', method: 'GET' } });
    expect(matchRoute('/apps/1/channels/presence-a')).toMatchObject({ ok: true, route: { name: 'channel' }, params: { appId: '1', channel: 'presence-a' } });
    expect(matchRoute('/apps/1/channels/presence-a/users')).toMatchObject({ ok: true, route: { name: 'channelUsers' }, params: { channel: 'presence-a' } });
    expect(matchRoute('/apps/1/users/u%201/terminate_connections')).toMatchObject({
      ok: true,
      route: { name: 'terminateUserConnections', template: '/apps/:appId/users/:userId/terminate_connections' },
      params: { userId: 'u 1' },
    });
    expect(matchRoute('/health')).toMatchObject({ ok: true, route: { name: 'health' } });
  });

  it('matches nothing for unknown, partial or over-long paths and empty parameters', () => {
    for (const path of ['/', '', 'apps/1/events', '/apps/1', '/apps/1/events/x', '/apps//events', '/apps/1/channels//users', '/health/']) {
      expect(matchRoute(path)).toBeNull();
    }
  });

  it('flags a parameter that is not valid percent-encoding instead of throwing', () => {
    expect(matchRoute('/apps/1/channels/%E0%A4%A')).toMatchObject({ ok: false, reason: 'bad-encoding', route: { name: 'channel' } });
  });
});
