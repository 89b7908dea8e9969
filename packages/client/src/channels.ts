import type { ChannelAuthorizationCallback, ChannelAuthorizationData } from './auth.js';
import { Dispatcher, type EventMetadata } from './emitter.js';
import { Members } from './members.js';
import type { Frame, StreamPosition } from './protocol.js';

/** What a channel needs from its client. */
export interface ChannelHost {
  send_event(event: string, data: unknown, channel?: string): boolean;
  readonly socketId: string | undefined;
  authorizeChannel(channelName: string, socketId: string, callback: ChannelAuthorizationCallback): void;
  /** Connection-level `recovered` / `discontinuity` events. */
  notify(event: 'recovered' | 'discontinuity', data: RecoveryEvent | DiscontinuityEvent): void;
  readonly nacl: NaclLike | undefined;
}

/** Emitted (as `switchboard:recovered` on the channel, `recovered` on the connection) once every missed event has been delivered. */
export interface RecoveryEvent {
  channel: string;
  /** How many events were replayed. */
  missed: number;
  offset: number;
  epoch: string;
}

/**
 * Emitted (as `switchboard:discontinuity` on the channel, `discontinuity` on the connection) when
 * events may have been missed and will not be replayed: refetch from your own backend.
 */
export interface DiscontinuityEvent {
  channel: string;
  /** `not_recovered`: the server could not replay (history expired, trimmed, epoch changed); `unsupported`: the server ignored `recover`; `gap` / `epoch_changed`: seen in the live stream. */
  reason: 'not_recovered' | 'unsupported' | 'gap' | 'epoch_changed';
  /** The last position the client had, if any. */
  from: StreamPosition | null;
  /** The position the stream is at now, if known. */
  to: StreamPosition | null;
}

/** The part of tweetnacl the encrypted channels use (pass `nacl` in the options, as with pusher-js). */
export interface NaclLike {
  secretbox: { open(box: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array | null };
}

/** A public channel; the base of the others. */
export class Channel extends Dispatcher {
  subscribed = false;
  subscriptionPending = false;
  subscriptionCancelled = false;
  subscriptionCount: number | null = null;
  /** After a resubscribe that asked for recovery: whether the missed events were replayed. null when nothing was asked. */
  recovered: boolean | null = null;
  /** The last history position seen on this channel (history channels only). */
  position: StreamPosition | null = null;
  private recoverFrom: StreamPosition | null = null;
  private catchUpTo: StreamPosition | null = null;
  private recoveringFrom = 0;
  /** A gap was seen live: a resubscribe with recover is out, and live events wait for its answer. */
  private resyncing = false;

  constructor(
    readonly name: string,
    protected readonly host: ChannelHost,
  ) {
    super();
  }

  /** Public channels need no signature. */
  authorize(_socketId: string, callback: ChannelAuthorizationCallback): void {
    callback(null, { auth: '' });
  }

  /** Send a client event (`client-*`) to the channel's other subscribers; false when it could not be sent. */
  trigger(event: string, data: unknown): boolean {
    if (typeof event !== 'string' || !event.startsWith('client-')) throw new Error(`Event '${String(event)}' does not start with 'client-'`);
    return this.host.send_event(event, data, this.name);
  }

  /** The connection is gone: the server forgot the subscription; the position is kept for recovery. */
  disconnect(): void {
    this.subscribed = false;
    this.subscriptionPending = false;
    this.recoverFrom = null;
    this.catchUpTo = null;
    this.resyncing = false;
  }

  subscribe(): void {
    if (this.subscribed) return;
    const socketId = this.host.socketId;
    if (socketId === undefined) return;
    this.subscriptionPending = true;
    this.subscriptionCancelled = false;
    this.authorize(socketId, (error, data) => {
      // A reconnect while authorising: the new connection subscribes again on its own.
      if (this.host.socketId !== socketId || !this.subscriptionPending) return;
      if (error !== null || data === null) {
        this.subscriptionPending = false;
        this.emit('pusher:subscription_error', {
          type: 'AuthError',
          error: error?.message ?? 'no auth data',
          status: (error as { status?: number } | null)?.status ?? 0,
        });
        return;
      }
      if (this.subscriptionCancelled) {
        this.subscriptionPending = false;
        return;
      }
      const payload: { channel: string; auth?: string; channel_data?: string; recover?: StreamPosition } = { channel: this.name };
      if (data.auth !== '') payload.auth = data.auth;
      if (typeof data.channel_data === 'string') payload.channel_data = data.channel_data;
      if (this.position !== null) payload.recover = { offset: this.position.offset, epoch: this.position.epoch };
      this.recoverFrom = this.position;
      this.host.send_event('pusher:subscribe', payload);
    });
  }

  unsubscribe(): void {
    this.subscribed = false;
    this.subscriptionPending = false;
    this.host.send_event('pusher:unsubscribe', { channel: this.name });
  }

  cancelSubscription(): void {
    this.subscriptionCancelled = true;
  }

  reinstateSubscription(): void {
    this.subscriptionCancelled = false;
  }

  /** One frame for this channel, from the client's router; false when it was a repeat and was dropped. */
  handleEvent(frame: Frame): boolean {
    switch (frame.event) {
      case 'pusher_internal:subscription_succeeded':
        this.handleSucceeded(frame);
        return true;
      case 'pusher_internal:subscription_count': {
        const count = (frame.data as { subscription_count?: unknown } | null)?.subscription_count;
        if (typeof count === 'number') this.subscriptionCount = count;
        this.emit('pusher:subscription_count', frame.data);
        return true;
      }
      case 'pusher:subscription_error':
        this.subscriptionPending = false;
        this.emit('pusher:subscription_error', frame.data);
        return true;
    }
    if (frame.event.startsWith('pusher_internal:')) {
      this.handleInternal(frame);
      return true;
    }
    if (frame.offset !== undefined && frame.epoch !== undefined && !this.advance(frame.offset, frame.epoch)) return false;
    const metadata: EventMetadata = {};
    if (frame.user_id !== undefined) metadata.user_id = frame.user_id;
    this.deliver(frame.event, frame.data, metadata);
    return true;
  }

  /** Presence channels handle member frames here. */
  protected handleInternal(_frame: Frame): void {}

  /** Hand an event to the application (the encrypted channel decrypts first). */
  protected deliver(event: string, data: unknown, metadata: EventMetadata): void {
    this.emit(event, data, metadata);
  }

  /** What `pusher:subscription_succeeded` carries (presence: the members). */
  protected succeededData(data: unknown): unknown {
    return data;
  }

  /** Track the stream position; false for an event already delivered (never delivered twice). */
  private advance(offset: number, epoch: string): boolean {
    const last = this.position;
    if (this.resyncing) return false;
    if (last !== null && last.epoch === epoch) {
      if (offset <= last.offset) return false;
      if (offset > last.offset + 1 && this.subscribed) {
        // Events went missing on the way (the node lost some after a broker reconnect): ask for them
        // again with recover; what arrives until the answer is replayed after it.
        this.resync(last);
        return false;
      }
    } else if (last !== null) {
      this.discontinuity('epoch_changed', last, { offset, epoch });
    }
    this.position = { offset, epoch };
    const target = this.catchUpTo;
    if (target !== null && (epoch !== target.epoch || offset >= target.offset)) this.caughtUp();
    return true;
  }

  private resync(from: StreamPosition): void {
    this.resyncing = true;
    this.recoverFrom = from;
    this.host.send_event('pusher:subscribe', { channel: this.name, recover: { offset: from.offset, epoch: from.epoch } });
  }

  private handleSucceeded(frame: Frame): void {
    const wasResync = this.resyncing;
    this.resyncing = false;
    this.subscriptionPending = false;
    this.subscribed = true;
    const seam = frame.offset !== undefined && frame.epoch !== undefined ? { offset: frame.offset, epoch: frame.epoch } : null;
    const asked = this.recoverFrom;
    this.recoverFrom = null;
    this.catchUpTo = null;
    let lost: DiscontinuityEvent['reason'] | null = null;
    if (asked === null) {
      this.recovered = null;
      if (seam !== null) this.position = seam;
    } else if (frame.recovered === true && seam !== null && seam.epoch === asked.epoch && seam.offset >= asked.offset) {
      // The missed events asked.offset+1 … seam.offset follow now; 'recovered' fires after the last.
      this.recovered = true;
      this.position = asked;
      this.recoveringFrom = asked.offset;
      this.catchUpTo = seam;
    } else {
      this.recovered = false;
      this.position = seam;
      lost = wasResync ? 'gap' : frame.recovered === false ? 'not_recovered' : 'unsupported';
    }
    // A resync is the client's own business: the application saw no unsubscribe, so no second "succeeded".
    if (!wasResync) this.emit('pusher:subscription_succeeded', this.succeededData(frame.data));
    if (this.catchUpTo !== null && asked !== null && this.catchUpTo.offset === asked.offset) this.caughtUp();
    if (lost !== null) this.discontinuity(lost, asked, seam);
  }

  private caughtUp(): void {
    const target = this.catchUpTo;
    this.catchUpTo = null;
    if (target === null || this.position === null) return;
    const event: RecoveryEvent = {
      channel: this.name,
      missed: Math.max(0, target.offset - this.recoveringFrom),
      offset: this.position.offset,
      epoch: this.position.epoch,
    };
    this.emit('switchboard:recovered', event);
    this.host.notify('recovered', event);
  }

  private discontinuity(reason: DiscontinuityEvent['reason'], from: StreamPosition | null, to: StreamPosition | null): void {
    const event: DiscontinuityEvent = { channel: this.name, reason, from, to };
    this.emit('switchboard:discontinuity', event);
    this.host.notify('discontinuity', event);
  }
}

export class PrivateChannel extends Channel {
  override authorize(socketId: string, callback: ChannelAuthorizationCallback): void {
    this.host.authorizeChannel(this.name, socketId, callback);
  }
}

export class PresenceChannel extends PrivateChannel {
  readonly members = new Members();

  override authorize(socketId: string, callback: ChannelAuthorizationCallback): void {
    super.authorize(socketId, (error, data) => {
      if (error === null && data !== null) {
        const id = presenceUserId(data);
        if (id === null) {
          callback(new Error(`invalid channel_data for ${this.name}: it must be JSON with a user_id`), null);
          return;
        }
        this.members.setMyID(id);
      }
      callback(error, data);
    });
  }

  override disconnect(): void {
    const myID = this.members.myID;
    this.members.reset();
    if (myID !== null) this.members.setMyID(myID);
    super.disconnect();
  }

  protected override succeededData(data: unknown): unknown {
    this.members.onSubscription(data);
    return this.members;
  }

  protected override handleInternal(frame: Frame): void {
    if (frame.event === 'pusher_internal:member_added') {
      const member = this.members.addMember(frame.data);
      if (member !== null) this.emit('pusher:member_added', member);
    } else if (frame.event === 'pusher_internal:member_removed') {
      const member = this.members.removeMember(frame.data);
      if (member !== null) this.emit('pusher:member_removed', member);
    }
  }
}

function presenceUserId(data: ChannelAuthorizationData): string | null {
  if (typeof data.channel_data !== 'string') return null;
  try {
    const id = (JSON.parse(data.channel_data) as { user_id?: unknown } | null)?.user_id;
    if (typeof id === 'string' && id !== '') return id;
    if (typeof id === 'number') return String(id);
  } catch {
    // fall through
  }
  return null;
}
