import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisAdapter } from '../../src/adapters/index.js';
import { BrokerProcess, REDIS_BINARY, serviceAvailable } from './services.js';
import { eventually } from './harness.js';

const available = serviceAvailable(REDIS_BINARY, 'redis-server');

describe.skipIf(!available)('redis adapter with several shards', () => {
  let shards: BrokerProcess[] = [];
  const adapters: RedisAdapter[] = [];

  beforeAll(async () => {
    shards = await Promise.all([BrokerProcess.start('redis'), BrokerProcess.start('redis')]);
  });
  afterAll(async () => {
    await Promise.all(adapters.map((a) => a.close()));
    await Promise.all(shards.map((s) => s.stop()));
  });

  it('spreads subjects over the shards by a stable hash and delivers every one of them', async () => {
    // The same shards listed in a different order by the receiver would break placement: same order here, as a deployment would.
    const urls = shards.map((s) => s.url);
    const sender = new RedisAdapter({ urls, prefix: 'shardtest' });
    const receiver = new RedisAdapter({ urls, prefix: 'shardtest' });
    adapters.push(sender, receiver);
    const got = new Set<string>();
    receiver.setHandler((subject) => got.add(subject));
    await Promise.all([sender.connect(), receiver.connect()]);
    const subjects = Array.from({ length: 20 }, (_, i) => `ch.app.room-${i}`);
    await Promise.all(subjects.map((s) => receiver.subscribe(s)));
    for (const s of subjects) sender.publish(s, 'x');
    await eventually(() => got.size === 20, 3000, 'all 20 subjects');

    const perShard = shards.map((shard) => channelCount(shard.port));
    expect(perShard.every((n) => n > 0)).toBe(true);
    expect(perShard.reduce((a, b) => a + b, 0)).toBe(20);
  });
});

function channelCount(port: number): number {
  const out = execFileSync('redis-cli', ['-p', String(port), 'PUBSUB', 'CHANNELS', 'shardtest.ch.*'])
    .toString()
    .trim();
  return out === '' ? 0 : out.split('\n').length;
}
