import type { UserAuthenticationHandler } from './auth.js';
import { Channel, type ChannelHost } from './channels.js';
import { Dispatcher } from './emitter.js';
import type { Frame } from './protocol.js';

/** The signed-in user's data, as the auth endpoint signed it. */
export interface UserData {
  id: string;
  user_info?: unknown;
  watchlist?: string[];
}

/** `user.watchlist`: `online` / `offline` events `{name, user_ids}` for the users on the watchlist. */
class Watchlist extends Dispatcher {
  handle(data: unknown): void {
    const events = (data as { events?: unknown } | null)?.events;
    if (!Array.isArray(events)) return;
    for (const event of events) {
      const name = (event as { name?: unknown } | null)?.name;
      const ids = (event as { user_ids?: unknown }).user_ids;
      if (typeof name === 'string' && Array.isArray(ids)) this.emit(name, { name, user_ids: ids.filter((id) => typeof id === 'string') });
    }
  }
}

/**
 * pusher-js's `client.user`: `signin()`, the events sent to the user (`#server-to-user-{id}`),
 * and the watchlist. A sign-in is repeated on every new connection until `disconnect()`.
 */
export class User extends Dispatcher {
  user_data: UserData | null = null;
  readonly watchlist = new Watchlist();
  private requested = false;
  private channel: Channel | null = null;

  constructor(
    private readonly host: ChannelHost,
    private readonly authenticate: UserAuthenticationHandler,
    private readonly onError: (error: unknown) => void,
  ) {
    super();
  }

  signin(): void {
    if (this.requested) return;
    this.requested = true;
    this.connected();
  }

  /** A new connection: sign in again if asked to. */
  connected(): void {
    const socketId = this.host.socketId;
    if (!this.requested || socketId === undefined) return;
    this.authenticate({ socketId }, (error, data) => {
      if (this.host.socketId !== socketId) return;
      if (error !== null || data === null) {
        this.onError({ type: 'SigninError', error: error?.message ?? 'no user authentication data' });
        return;
      }
      this.host.send_event('pusher:signin', { auth: data.auth, user_data: data.user_data });
    });
  }

  /** The connection is gone: the server forgot the sign-in. */
  disconnected(): void {
    this.user_data = null;
    this.channel?.disconnect();
    this.channel = null;
  }

  /** Frames the client routes here: `pusher:signin_success`, watchlist events and `#server-to-user-*`. */
  handle(frame: Frame): boolean {
    if (frame.event === 'pusher:signin_success') {
      this.signedIn(frame.data);
      return true;
    }
    if (frame.event === 'pusher_internal:watchlist_events') {
      this.watchlist.handle(frame.data);
      return true;
    }
    if (this.channel !== null && frame.channel === this.channel.name) {
      this.channel.handleEvent(frame);
      return true;
    }
    return false;
  }

  private signedIn(data: unknown): void {
    const raw = (data as { user_data?: unknown } | null)?.user_data;
    let user: UserData | null = null;
    try {
      const parsed = typeof raw === 'string' ? (JSON.parse(raw) as UserData) : null;
      if (parsed !== null && typeof parsed === 'object' && typeof parsed.id === 'string' && parsed.id !== '') user = parsed;
    } catch {
      // reported below
    }
    if (user === null) {
      this.onError({ type: 'SigninError', error: 'pusher:signin_success without valid user_data' });
      return;
    }
    this.user_data = user;
    const channel = new Channel(`#server-to-user-${user.id}`, this.host);
    channel.bind_global((event, payload) => {
      if (!event.startsWith('pusher:') && !event.startsWith('pusher_internal:')) this.emit(event, payload);
    });
    this.channel = channel;
    channel.subscribe();
  }
}
