import type { Config } from '../../config/schema.js';
import type { Logger } from '../../util/logger.js';
import type { WebhookQueue } from '../types.js';
import { MemoryQueue } from './memory.js';

/**
 * The queue the config names. The durable drivers are imported only when
 * chosen, so a node on the memory queue never loads a broker client.
 */
export async function createQueue(config: Config, logger: Logger): Promise<WebhookQueue> {
  switch (config.webhookQueue) {
    case 'memory':
      return new MemoryQueue(config.webhookMemoryQueueMax, logger);
    case 'redis': {
      const { createRedisQueue } = await import('./redis.js');
      // The schema guarantees one of the two URLs for the redis queue.
      const url = config.webhookQueueUrl ?? (config.redisUrl as string);
      return createRedisQueue({ url, keyPrefix: config.keyPrefix, logger });
    }
    case 'rabbitmq': {
      const { createRabbitQueue } = await import('./rabbitmq.js');
      return createRabbitQueue({ url: config.webhookQueueUrl as string, keyPrefix: config.keyPrefix, logger });
    }
  }
}
