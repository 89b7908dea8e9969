export type { ClusterTransport } from './types.js';
export { LocalAdapter, LocalBus } from './local.js';
export { RedisAdapter } from './redis.js';
export { NatsAdapter } from './nats.js';
export { splitRedisUrls } from './create.js';
