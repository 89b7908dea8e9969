import { frameText } from '../transport/frame.js';
import { broadcast } from '../transport/outbound.js';
import type { AppState } from './app-state.js';

/**
 * Deliver one encoded event to this node's subscribers of a channel: framed
 * once, the same Buffer queued for every subscriber. Cache channels keep the
 * event (even when nobody is subscribed, so the next subscriber gets it).
 * Returns the number of sockets it was queued for.
 */
export function deliverToChannel(app: AppState, channelName: string, json: string, isCacheChannel: boolean, excludeSocketId?: string): number {
  beforeBroadcast(app, channelName, json, isCacheChannel);
  const channel = app.channels.get(channelName);
  if (channel === undefined || channel.subscribers.size === 0) return 0;
  return broadcast(frameText(json), channel.subscribers, excludeSocketId);
}

/** What every delivery of an event does besides the broadcast: a cache channel keeps it, the taps see it. */
export function beforeBroadcast(app: AppState, channelName: string, json: string, isCacheChannel: boolean): void {
  if (isCacheChannel) {
    app.cache.set(channelName, json);
    app.webhooks?.cacheFilled(channelName);
  }
  app.taps?.notify(channelName, json);
}
