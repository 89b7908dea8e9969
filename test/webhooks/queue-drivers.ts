import { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { MemoryQueue } from '../../src/webhooks/queues/memory.js';
import { createRabbitQueue, rabbitQueueNames } from '../../src/webhooks/queues/rabbitmq.js';
import { createRedisQueue } from '../../src/webhooks/queues/redis.js';
import type { WebhookQueue } from '../../src/webhooks/types.js';
import { BrokerProcess, REDIS_BINARY, SERVICES_REQUIRED, serviceAvailable } from '../cluster/services.js';
import { silent, uniquePrefix } from './queue-harness.js';

/** The webhook queue drivers as the contract suite sees them: a table of factories. */
export interface QueueDriver {
  readonly name: string;
  /** False: the suite is skipped (and the reason was printed). */
  readonly available: boolean;
  /** Whether two instances on one namespace are two nodes of one queue (memory: no). */
  readonly shared: boolean;
  /** How soon the other node takes over after a node closes. */
  readonly handoverMs: number;
  setup(): Promise<DriverSetup | null>;
}

export interface DriverSetup {
  /** A key prefix of its own: queues opened from it share batches, and no other namespace's. */
  namespace(): Namespace;
  stop(): Promise<void>;
}

export interface Namespace {
  /** Another node's queue on this namespace. */
  open(): WebhookQueue;
  /** An endpoint key, remembered for cleanup. */
  endpoint(name: string): string;
  /** Delete what the namespace created on the broker. */
  cleanup(): Promise<void>;
}

/** The memory driver: one instance is one process, so the two-node cases do not apply. */
export function memoryDriver(): QueueDriver {
  return {
    name: 'memory',
    available: true,
    shared: false,
    handoverMs: 0,
    async setup() {
      return {
        namespace: () => {
          let queue: MemoryQueue | null = null;
          // One store per namespace: a second open() would be a second, unrelated queue.
          return { open: () => (queue ??= new MemoryQueue(10_000, silent)), endpoint: (name) => `https://hooks.test/memory/${name}`, cleanup: async () => {} };
        },
        stop: async () => {},
      };
    },
  };
}

/** Lease length the Redis contract uses: short, so hand-overs fit the test budget, yet renewed (every 1 s) through a loaded CI machine's event-loop lag. */
const TEST_LEASE_MS = 3000;

/** Redis on a redis-server of its own (free port, no persistence), removed at the end. */
export function redisDriver(): QueueDriver {
  return {
    name: 'redis',
    available: serviceAvailable(REDIS_BINARY, 'redis-server'),
    shared: true,
    // Close releases the lease; the other node finds it free at its next try (at most one lease length later).
    handoverMs: TEST_LEASE_MS + 2000,
    async setup() {
      const broker = await BrokerProcess.start('redis');
      return {
        namespace() {
          const keyPrefix = uniquePrefix('redis');
          return {
            open: () => createRedisQueue({ url: broker.url, keyPrefix, logger: silent, leaseMs: TEST_LEASE_MS }),
            endpoint: (name) => `https://hooks.test/${keyPrefix}/${name}`,
            cleanup: () => deleteRedisKeys(broker.url, keyPrefix),
          };
        },
        stop: () => broker.stop(),
      };
    },
  };
}

async function deleteRedisKeys(url: string, keyPrefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${keyPrefix}:*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

/** The machine's RabbitMQ (shared: every test in a namespace of its own, its queues deleted after). */
const AMQP_URL = process.env.SWITCHBOARD_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export async function rabbitDriver(): Promise<QueueDriver> {
  const available = await brokerReachable(AMQP_URL, 'RabbitMQ');
  return {
    name: 'rabbitmq',
    available,
    shared: true,
    // The broker hands the single-active-consumer slot over as soon as the consumer is cancelled.
    handoverMs: 3000,
    async setup() {
      return {
        namespace() {
          const keyPrefix = uniquePrefix('rabbit');
          const endpoints = new Set<string>();
          return {
            open: () => createRabbitQueue({ url: AMQP_URL, keyPrefix, logger: silent }),
            endpoint: (name) => {
              const endpoint = `https://hooks.test/${keyPrefix}/${name}`;
              endpoints.add(endpoint);
              return endpoint;
            },
            cleanup: () => deleteRabbitQueues(AMQP_URL, keyPrefix, [...endpoints]),
          };
        },
        stop: async () => {},
      };
    },
  };
}

export async function deleteRabbitQueues(url: string, keyPrefix: string, endpoints: readonly string[]): Promise<void> {
  const { connect } = await import('amqplib');
  const connection = await connect(url);
  try {
    const channel = await connection.createChannel();
    const names = rabbitQueueNames(keyPrefix);
    for (const name of [...endpoints.map((e) => names.endpoint(e)), names.dead]) await channel.deleteQueue(name);
    await channel.close();
  } finally {
    await connection.close();
  }
}

/** Whether something listens at the URL's host:port; when services are required, a refusal fails the suite. */
async function brokerReachable(url: string, what: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  const reachable = await new Promise<boolean>((resolve) => {
    const socket = new Socket();
    socket.setTimeout(1000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
    socket.connect(Number(port || 5672), hostname);
  });
  if (reachable) return true;
  if (SERVICES_REQUIRED) throw new Error(`${what} not reachable at ${hostname}:${port} and SWITCHBOARD_REQUIRE_SERVICES=1`);
  console.warn(`[webhook queue tests] ${what} not reachable at ${hostname}:${port}: skipping its suite`);
  return false;
}
