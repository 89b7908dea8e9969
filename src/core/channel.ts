import type { ChannelKind } from '../protocol/channels.js';
import type { Connection } from './connection.js';

/** One presence member: a user, however many of their sockets are subscribed. */
export interface PresenceMember {
  readonly userInfo: unknown;
  sockets: number;
}

/**
 * An occupied channel on this node: its local subscribers and, for presence
 * channels, its members. Created on the first subscription, dropped on the last.
 */
export class Channel {
  readonly subscribers = new Set<Connection>();
  /** Presence channels only: user id → member. Insertion order = join order. */
  readonly members: Map<string, PresenceMember> | null;
  /** Set while a debounced subscription_count broadcast is pending. */
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
