import type { Config } from '../../config/schema.js';
import type { Logger } from '../../util/logger.js';
import type { WebhookQueue } from '../types.js';
import { MemoryQueue } from './memory.js';

/** What the durable drivers take (their modules export createRedisQueue / createRabbitQueue with it). */
interface DurableQueueOptions {
  readonly url: string;
  readonly keyPrefix: string;
  readonly logger: Logger;
}

type QueueFactory = (options: DurableQueueOptions) => Promise<WebhookQueue> | WebhookQueue;

/**
 * The queue the config names. The durable drivers are imported only when
 * chosen, so a node on the memory queue never loads a broker client.
 */
export async function createQueue(config: Config, logger: Logger): Promise<WebhookQueue> {
  switch (config.webhookQueue) {
    case 'memory':
      return new MemoryQueue(config.webhookMemoryQueueMax, logger);
    case 'redis': {
      // Provided by the queue drivers (src/webhooks/queues/redis.ts). The path is typed
      // loosely so this tree compiles before that module lands.
      const { createRedisQueue } = (await import(/* driver */ './redis.js' as string)) as { createRedisQueue: QueueFactory };
      // The schema guarantees one of the two URLs for the redis queue.
      const url = config.webhookQueueUrl ?? (config.redisUrl as string);
      return createRedisQueue({ url, keyPrefix: config.keyPrefix, logger });
    }
    case 'rabbitmq': {
      // Provided by the queue drivers (src/webhooks/queues/rabbitmq.ts).
      const { createRabbitQueue } = (await import(/* driver */ './rabbitmq.js' as string)) as { createRabbitQueue: QueueFactory };
      return createRabbitQueue({ url: config.webhookQueueUrl as string, keyPrefix: config.keyPrefix, logger });
    }
  }
}
