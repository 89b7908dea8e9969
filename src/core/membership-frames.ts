import { memberAdded, memberRemoved, subscriptionCount, watchlistEvents } from '../protocol/frames.js';
import { broadcast } from './outbox.js';
import type { AppState } from './app-state.js';
import type { MembershipObserver } from './membership.js';

/** Subscription counts are coalesced: at most one frame per channel per this many ms. */
const SUBSCRIPTION_COUNT_DEBOUNCE_MS = 200;

/**
 * The frames this node's clients get for membership transitions: member
 * added/removed on presence channels, watchlist online/offline, and
 * subscription counts. The model decides that a transition happened; this
 * only says it to the local sockets it concerns.
 */
export function clientFrames(app: AppState): MembershipObserver {
  return {
    memberAdded(channelName, userId, userInfo, exceptSocketId) {
      const channel = app.channels.get(channelName);
      if (channel?.members == null) return;
      broadcast(app, memberAdded(channelName, userId, userInfo), channel.subscribers, exceptSocketId);
    },
    memberRemoved(channelName, userId) {
      const channel = app.channels.get(channelName);
      if (channel?.members == null || channel.subscriberCount === 0) return;
      broadcast(app, memberRemoved(channelName, userId), channel.subscribers);
    },
    userOnline(userId) {
      notifyWatchers(app, userId, 'online');
    },
    userOffline(userId) {
      notifyWatchers(app, userId, 'offline');
    },
    subscriptionCountChanged(channelName) {
      if (app.config.enableSubscriptionCount) scheduleSubscriptionCount(app, channelName);
    },
  };
}

function notifyWatchers(app: AppState, userId: string, name: 'online' | 'offline'): void {
  const watchers = app.watchers.get(userId);
  if (watchers === undefined || watchers.size === 0) return;
  broadcast(app, watchlistEvents([{ name, user_ids: [userId] }]), watchers);
}

function scheduleSubscriptionCount(app: AppState, channelName: string): void {
  const channel = app.channels.get(channelName);
  if (channel === undefined || channel.isPresence || channel.countTimer !== null) return;
  channel.countTimer = setTimeout(() => {
    channel.countTimer = null;
    if (app.channels.get(channel.name) !== channel) return;
    broadcast(app, subscriptionCount(channel.name, app.membership.subscriptionCount(channel.name)), channel.subscribers);
  }, SUBSCRIPTION_COUNT_DEBOUNCE_MS);
  channel.countTimer.unref();
}
