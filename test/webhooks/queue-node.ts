/**
 * A queue consumer as a process of its own, for the fault tests to kill -9:
 * `node --import tsx test/webhooks/queue-node.ts` with its settings in
 * QUEUE_NODE (JSON). It prints one JSON line per step on stdout:
 * {"type":"started"}, {"type":"delivering","id"}, {"type":"delivered","id"}.
 * Deliveries take `delayMs`; the batch whose id is `hangOn` never finishes,
 * so the process is killed mid-delivery with the batch claimed.
 */
import { pino } from 'pino';
import { createRabbitQueue } from '../../src/webhooks/queues/rabbitmq.js';
import { createRedisQueue } from '../../src/webhooks/queues/redis.js';

interface Settings {
  driver: 'redis' | 'rabbitmq';
  url: string;
  keyPrefix: string;
  endpoints: string[];
  delayMs: number;
  hangOn?: string;
  leaseMs?: number;
}

const settings = JSON.parse(process.env.QUEUE_NODE ?? '{}') as Settings;
const logger = pino({ level: process.env.SWITCHBOARD_TEST_LOG_LEVEL ?? 'silent' }, pino.destination(2));
const queue =
  settings.driver === 'redis'
    ? createRedisQueue({ url: settings.url, keyPrefix: settings.keyPrefix, logger, ...(settings.leaseMs === undefined ? {} : { leaseMs: settings.leaseMs }) })
    : createRabbitQueue({ url: settings.url, keyPrefix: settings.keyPrefix, logger });

const say = (line: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(line)}\n`);

await queue.start(settings.endpoints, async (batch) => {
  say({ type: 'delivering', id: batch.id, at: Date.now() });
  if (batch.id === settings.hangOn) await new Promise(() => {});
  await new Promise((resolve) => setTimeout(resolve, settings.delayMs));
  say({ type: 'delivered', id: batch.id, at: Date.now() });
});
say({ type: 'started' });
