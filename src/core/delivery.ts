import { broadcast } from './outbox.js';
import type { AppState } from './app-state.js';

/**
 * Deliver one encoded event to this node's subscribers of a channel: one
 * JSON string for every subscriber (the transport frames it once). Cache channels keep the
 * event (even when nobody is subscribed, so the next subscriber gets it).
 * Returns the number of sockets it was queued for.
 */
export function deliverToChannel(app: AppState, channelName: string, json: string, isCacheChannel: boolean, excludeSocketId?: string): number {
  beforeBroadcast(app, channelName, json, isCacheChannel);
  const channel = app.channels.get(channelName);
  if (channel === undefined || channel.subscriberCount === 0) return 0;
  return broadcast(app, json, channel.subscribers, excludeSocketId);
}

/** What every delivery of an event does besides the broadcast: a cache channel keeps it, the taps see it. */
export function beforeBroadcast(app: AppState, channelName: string, json: string, isCacheChannel: boolean): void {
  if (isCacheChannel) {
    app.cache.set(channelName, json);
    app.webhooks?.cacheFilled(channelName);
  }
  app.taps?.notify(channelName, json);
}
