import type { AppConfig } from '../config/schema.js';

/** What the HTTP API (and later the cluster layer) may ask of the node's state. */
export interface ChannelSnapshot {
  name: string;
  /** Sockets subscribed to the channel. */
  subscriptionCount: number;
  /** Distinct users, presence channels only. */
  userCount?: number;
}

export interface PublishRequest {
  app: AppConfig;
  channels: readonly string[];
  /** Event name (already validated by the caller). */
  event: string;
  /** Event data exactly as given by the publisher (a string, relayed as is). */
  data: string;
  /** Socket that must not receive the event (the publisher's own socket). */
  excludeSocketId?: string;
}

/** Answers are promises so that a clustered node can ask its peers. */
export interface CoreApi {
  findAppById(id: string): AppConfig | undefined;
  /** Deliver an event to every subscriber of each channel. */
  publish(req: PublishRequest): void;
  /** Occupied channels of an app, optionally only those starting with `prefix`. */
  listChannels(app: AppConfig, prefix?: string): Promise<ChannelSnapshot[]>;
  /** One channel; undefined when nobody is subscribed. */
  getChannel(app: AppConfig, name: string): Promise<ChannelSnapshot | undefined>;
  /** Whether a cache channel currently holds a cached event. */
  hasCachedEvent(app: AppConfig, name: string): Promise<boolean>;
  /** Distinct user ids on a presence channel. */
  presenceUserIds(app: AppConfig, name: string): Promise<string[]>;
  /** Close every connection signed in as `userId` (and that user's presence memberships go with them). */
  terminateUserConnections(app: AppConfig, userId: string): Promise<void>;
}
