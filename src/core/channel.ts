import type { ChannelKind } from '../protocol/channels.js';
import type { Connection } from './connection.js';

/**
 * An occupied channel on this node: its local subscribers and, for presence
 * channels, how many of each member's sockets are here. Created on the first
 * subscription, dropped on the last. Who the members are cluster-wide (and
 * their user info) is the membership model's.
 */
export class Channel {
  readonly subscribers = new Set<Connection>();
  /** Presence channels only: user id → this node's sockets subscribed as that user. */
  readonly members: Map<string, number> | null;
  /** Set while a debounced subscription_count frame is pending. */
  countTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly name: string,
    readonly kind: ChannelKind,
  ) {
    this.members = kind.type === 'presence' ? new Map() : null;
  }

  get isPresence(): boolean {
    return this.members !== null;
  }
}
