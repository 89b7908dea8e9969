import type { ChannelKind } from '../protocol/channels.js';
import type { AppState } from './app-state.js';

/** What the HTTP API (and later the cluster layer) may ask of the node's state. */
export interface ChannelSnapshot {
  name: string;
  /** Sockets subscribed to the channel. */
  subscriptionCount: number;
  /** Distinct users, presence channels only. */
  userCount?: number;
}

export interface PublishRequest {
  app: AppState;
  /** Each channel with its kind, classified once by the caller. */
  channels: ReadonlyArray<{ readonly name: string; readonly kind: ChannelKind }>;
  /** Event name (already validated by the caller). */
  event: string;
  /** Event data exactly as given by the publisher (a string, relayed as is). */
  data: string;
  /** Socket that must not receive the event (the publisher's own socket). */
  excludeSocketId?: string;
}

/**
 * What the HTTP API asks of the node. Answers are promises so that a
 * clustered node can ask its peers. The app is looked up once per request
 * (findApp) and its state handed back in every call.
 */
export interface CoreApi {
  findApp(id: string): AppState | undefined;
  /** Deliver an event to every subscriber of each channel; a promise when history channels append asynchronously (it rejects when one was not published). */
  publish(req: PublishRequest): void | Promise<void>;
  /** Occupied channels of an app, optionally only those starting with `prefix`. */
  listChannels(app: AppState, prefix?: string): Promise<ChannelSnapshot[]>;
  /** One channel; undefined when nobody is subscribed. */
  getChannel(app: AppState, name: string): Promise<ChannelSnapshot | undefined>;
  /** Several channels in one question (a trigger's `info`); unoccupied ones are absent. */
  getChannels(app: AppState, names: readonly string[]): Promise<Map<string, ChannelSnapshot>>;
  /** Whether a cache channel currently holds a cached event. */
  hasCachedEvent(app: AppState, name: string): Promise<boolean>;
  /** Distinct user ids on a presence channel. */
  presenceUserIds(app: AppState, name: string): Promise<string[]>;
  /** Close every connection signed in as `userId` (and that user's presence memberships go with them). */
  terminateUserConnections(app: AppState, userId: string): Promise<void>;
}
