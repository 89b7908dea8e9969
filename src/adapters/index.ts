export type { ClusterTransport, LeaseHolder, LeaseStore, LinkState, LinkStateChange, SubjectHandler } from './types.js';
export { LocalAdapter, LocalBus, processBus } from './local.js';
export { IpcAdapter, IpcHub } from './ipc.js';
export { RedisAdapter, type RedisAdapterOptions } from './redis.js';
export { NatsAdapter, type NatsAdapterOptions } from './nats.js';
export { createTransport, splitRedisUrls, splitUrls, type TransportSettings } from './create.js';
