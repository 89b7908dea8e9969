import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DiscontinuityEvent, RecoveryEvent } from '../../packages/client/src/index.js';
import { BrokerProcess, REDIS_BINARY, serviceAvailable } from '../cluster/services.js';
import { builtCliAvailable } from '../cluster/node-process.js';
import { until } from '../helpers/node.js';
import { ClientPool, connectedClient, NodeFleet, sdkFor, subscribedTo, wsUrl } from './helpers.js';

// Two (or three) real `switchboard start` processes on a real redis-server, history in Redis
// Streams: the node a client is on is killed with SIGKILL while events keep being published.
describe.runIf(serviceAvailable(REDIS_BINARY, 'redis-server') && builtCliAvailable())('client failover and recovery', () => {
  let redis: BrokerProcess;
  let fleet: NodeFleet;
  const clients = new ClientPool();
  let run = 0;

  beforeAll(async () => {
    redis = await BrokerProcess.start('redis');
  });
  afterEach(async () => {
    clients.dispose();
    await fleet?.stop();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('kill -9 of its node: fails over to the other, recovers what was published meanwhile (recovered: true), 10,000 events none twice none missed', async () => {
    fleet = new NodeFleet(redis.url, `cl${process.pid}r${run++}`);
    const nodes = await Promise.all([fleet.start(), fleet.start()]);
    const client = clients.open({ endpoints: nodes.map((n) => wsUrl(n.port)) });
    await connectedClient(client);
    const channel = await subscribedTo(client, 'chat-failover');
    const onNode = nodes.find((n) => wsUrl(n.port) === client.connection.endpoint)!;
    const other = nodes.find((n) => n !== onNode)!;
    const received: number[] = [];
    channel.bind('msg', (data: { n: number }) => received.push(data.n));
    const recoveries: RecoveryEvent[] = [];
    const discontinuities: DiscontinuityEvent[] = [];
    client.connection.bind('recovered', (e: RecoveryEvent) => recoveries.push(e));
    client.connection.bind('discontinuity', (e: DiscontinuityEvent) => discontinuities.push(e));
    const states: string[] = [];
    client.connection.bind('state_change', (s: { current: string }) => states.push(s.current));

    // 10,000 events in batches of 10, one request after another (so their order is the offsets'),
    // all through the node that survives; the client's node dies after the first 2,000 arrived.
    const sdk = sdkFor(other.port);
    const TOTAL = 10_000;
    let killed = false;
    for (let start = 0; start < TOTAL; start += 10) {
      await sdk.triggerBatch(Array.from({ length: 10 }, (_, i) => ({ channel: 'chat-failover', name: 'msg', data: { n: start + i } })));
      if (!killed && received.length >= 2000) {
        killed = true;
        await onNode.proc.kill('SIGKILL');
      }
    }
    expect(killed).toBe(true);
    await until(() => received.length >= TOTAL, 20_000, `received ${received.length}/${TOTAL}`);
    await new Promise((r) => setTimeout(r, 200));
    expect(received.length).toBe(TOTAL);
    expect(received).toEqual(Array.from({ length: TOTAL }, (_, n) => n));
    expect(client.connection.endpoint).toBe(wsUrl(other.port));
    expect(states).toContain('connecting');
    expect(channel.recovered).toBe(true);
    expect(recoveries).toHaveLength(1);
    expect(recoveries[0]!.channel).toBe('chat-failover');
    expect(recoveries[0]!.missed).toBeGreaterThan(0);
    expect(discontinuities).toEqual([]);
  }, 45_000);

  it('history expired while it was away: recovered: false and a discontinuity event, then live events again', async () => {
    fleet = new NodeFleet(redis.url, `cl${process.pid}r${run++}`);
    const [a, b, publisher] = await Promise.all([fleet.start(), fleet.start(), fleet.start()]);
    const client = clients.open({ endpoints: [wsUrl(a.port), wsUrl(b.port)] });
    await connectedClient(client);
    const channel = await subscribedTo(client, 'short-expiring');
    const received: number[] = [];
    channel.bind('msg', (data: { n: number }) => received.push(data.n));
    const sdk = sdkFor(publisher.port);
    for (let n = 0; n < 5; n++) await sdk.trigger('short-expiring', 'msg', { n });
    await until(() => received.length === 5, 5000, 'the first five events');
    const channelDiscontinuities: DiscontinuityEvent[] = [];
    channel.bind('switchboard:discontinuity', (e: DiscontinuityEvent) => channelDiscontinuities.push(e));
    const discontinuity = new Promise<DiscontinuityEvent>((resolve) => client.connection.bind('discontinuity', resolve));

    // Both of its endpoints die; what is published meanwhile outlives its 1 s history.
    await Promise.all([a.proc.kill('SIGKILL'), b.proc.kill('SIGKILL')]);
    for (let n = 5; n < 10; n++) await sdk.trigger('short-expiring', 'msg', { n });
    await new Promise((r) => setTimeout(r, 2500));
    await fleet.startOn(b.port);

    const event = await Promise.race([
      discontinuity,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no discontinuity (state ${client.connection.state})`)), 25_000)),
    ]);
    expect(event).toMatchObject({ channel: 'short-expiring', reason: 'not_recovered' });
    expect(event.from?.offset).toBe(5);
    expect(channel.recovered).toBe(false);
    expect(channelDiscontinuities).toHaveLength(1);
    expect(received).toEqual([0, 1, 2, 3, 4]);
    await sdk.trigger('short-expiring', 'msg', { n: 10 });
    await until(() => received.length === 6, 5000, 'a live event after the discontinuity');
    expect(received).toEqual([0, 1, 2, 3, 4, 10]);
  }, 45_000);
});
