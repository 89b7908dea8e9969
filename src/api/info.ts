import type { AppConfig } from '../config/schema.js';
import type { ChannelKind } from '../protocol/channels.js';
import type { ChannelSnapshot } from '../core/types.js';

/** Attributes a caller may ask for with `info=`. Unknown names are ignored, as hosted Pusher does. */
export interface InfoRequest {
  userCount: boolean;
  subscriptionCount: boolean;
  cache: boolean;
}

const NO_INFO: InfoRequest = Object.freeze({ userCount: false, subscriptionCount: false, cache: false });

/** Parse `info` (`"user_count,subscription_count"`); anything but a string means none. */
export function parseInfo(value: unknown): InfoRequest {
  if (typeof value !== 'string' || value === '') return NO_INFO;
  const wanted = { userCount: false, subscriptionCount: false, cache: false };
  for (const raw of value.split(',')) {
    const name = raw.trim();
    if (name === 'user_count') wanted.userCount = true;
    else if (name === 'subscription_count') wanted.subscriptionCount = true;
    else if (name === 'cache') wanted.cache = true;
  }
  return wanted;
}

export function wantsAny(info: InfoRequest): boolean {
  return info.userCount || info.subscriptionCount || info.cache;
}

export interface ChannelAttributes {
  user_count?: number;
  subscription_count?: number;
}

/**
 * Counts for one channel as the publish and query routes report them:
 * `user_count` only on presence channels, `subscription_count` only when the app
 * has subscription counting enabled (hosted Pusher makes it an opt-in app setting).
 * An unoccupied channel counts zero.
 */
export function channelCounts(app: AppConfig, kind: ChannelKind, snapshot: ChannelSnapshot | undefined, info: InfoRequest): ChannelAttributes {
  const attributes: ChannelAttributes = {};
  if (info.userCount && kind.type === 'presence') attributes.user_count = snapshot?.userCount ?? 0;
  if (info.subscriptionCount && app.enableSubscriptionCount) attributes.subscription_count = snapshot?.subscriptionCount ?? 0;
  return attributes;
}
