/** Called with each event delivered on a tapped channel (its JSON, as subscribers get it). */
export type TapListener = (json: string) => void;

/** How a tap keeps the channel's events coming from the other nodes while it is open. */
export interface TapInterest {
  tap(channel: string): void;
  untap(channel: string): void;
}

/**
 * Observers of a channel's events that are not subscribers: the dashboard's
 * debug console. A tap never counts as a subscriber, so watching a channel
 * sends no member_added, no channel_occupied webhook and changes no
 * subscription count.
 */
export class ChannelTaps {
  private readonly byChannel = new Map<string, Set<TapListener>>();

  constructor(private readonly interest: () => TapInterest | null) {}

  /** Start observing; returns the function that stops it. */
  add(channel: string, listener: TapListener): () => void {
    let listeners = this.byChannel.get(channel);
    if (listeners === undefined) {
      listeners = new Set();
      this.byChannel.set(channel, listeners);
      this.interest()?.tap(channel);
    }
    listeners.add(listener);
    return () => {
      if (!listeners.delete(listener) || listeners.size > 0) return;
      this.byChannel.delete(channel);
      this.interest()?.untap(channel);
    };
  }

  notify(channel: string, json: string): void {
    const listeners = this.byChannel.get(channel);
    if (listeners === undefined) return;
    for (const listener of listeners) listener(json);
  }
}
