import type { ChannelKind } from '../protocol/channels.js';
import type { Connection } from './connection.js';

/**
 * An occupied channel on this node: its local subscribers and, for presence
 * channels, how many of each member's sockets are here. Created on the first
 * subscription, dropped on the last. Who the members are cluster-wide (and
 * their user info) is the membership model's.
 */
export class Channel {
  /**
   * This node's subscribers: none, one held directly, or a Set from the
   * second on (a Set and its table cost about 150 bytes, and many channels,
   * private and user channels above all, have one subscriber). Read and
   * change it through the members below.
   */
  private local: Connection | Set<Connection> | null = null;
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

  get subscriberCount(): number {
    const local = this.local;
    return local === null ? 0 : local instanceof Set ? local.size : 1;
  }

  hasSubscriber(conn: Connection): boolean {
    const local = this.local;
    return local === conn || (local instanceof Set && local.has(conn));
  }

  addSubscriber(conn: Connection): void {
    const local = this.local;
    if (local === null) this.local = conn;
    else if (local instanceof Set) local.add(conn);
    else if (local !== conn) this.local = new Set([local, conn]);
  }

  removeSubscriber(conn: Connection): void {
    const local = this.local;
    if (local === conn) this.local = null;
    else if (local instanceof Set) {
      local.delete(conn);
      if (local.size === 0) this.local = null;
    }
  }

  /** The subscribers, for a broadcast: the live Set, or a one-element array. */
  get subscribers(): Iterable<Connection> {
    const local = this.local;
    return local === null ? NONE : local instanceof Set ? local : [local];
  }
}

const NONE: readonly Connection[] = [];
