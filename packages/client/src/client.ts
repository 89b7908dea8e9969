import { channelAuthorizer, userAuthenticator, type ChannelAuthorizationCallback, type ChannelAuthorizationHandler } from './auth.js';
import { Channel, PresenceChannel, PrivateChannel, type ChannelHost, type DiscontinuityEvent, type NaclLike, type RecoveryEvent } from './channels.js';
import { Connection } from './connection.js';
import { Dispatcher, type EventCallback, type EventMetadata, type GlobalCallback } from './emitter.js';
import { EncryptedChannel } from './encrypted.js';
import { watchEnvironment } from './environment.js';
import { channelAuthorizationOptions, connectionConfig, useTLS, userAuthenticationOptions, type SwitchboardOptions } from './options.js';
import type { Frame } from './protocol.js';
import { User } from './user.js';

/** pusher-js's `client.channels`: laravel-echo reads `channels.channels[name]`. */
export class Channels {
  channels: Record<string, Channel> = {};

  add(name: string, host: ChannelHost): Channel {
    let channel = this.channels[name];
    if (channel === undefined) {
      channel = createChannel(name, host);
      this.channels[name] = channel;
    }
    return channel;
  }

  find(name: string): Channel | undefined {
    return Object.hasOwn(this.channels, name) ? this.channels[name] : undefined;
  }

  remove(name: string): Channel | undefined {
    const channel = this.find(name);
    delete this.channels[name];
    return channel;
  }

  all(): Channel[] {
    return Object.values(this.channels);
  }

  disconnect(): void {
    for (const channel of this.all()) channel.disconnect();
  }
}

function createChannel(name: string, host: ChannelHost): Channel {
  if (name.startsWith('private-encrypted-')) return new EncryptedChannel(name, host);
  if (name.startsWith('private-')) return new PrivateChannel(name, host);
  if (name.startsWith('presence-')) return new PresenceChannel(name, host);
  if (name.startsWith('#')) throw new Error(`Cannot create a channel with name "${name}": "#" names are reserved for the server`);
  return new Channel(name, host);
}

/**
 * A drop-in for pusher-js's `Pusher` class (`new SwitchboardClient(key, options)`), so that
 * `new Echo({ broadcaster: 'pusher', Pusher: SwitchboardClient, ... })` works, with several
 * endpoints, failover and missed-message recovery on top. See docs/client.md.
 */
export class SwitchboardClient implements ChannelHost {
  static instances: SwitchboardClient[] = [];
  static isReady = true;
  static logToConsole = false;

  readonly key: string;
  readonly config: SwitchboardOptions;
  readonly channels = new Channels();
  readonly connection: Connection;
  readonly user: User;
  readonly global_emitter = new Dispatcher();
  readonly sessionID = Math.floor(Math.random() * 1_000_000_000);
  readonly nacl: NaclLike | undefined;
  private readonly channelAuth: ChannelAuthorizationHandler;
  private readonly transportsAllowed: boolean;
  private stopWatching: (() => void) | null = null;

  constructor(key: string, options: SwitchboardOptions = {}) {
    if (typeof key !== 'string' || key === '') throw new Error('You must pass your app key when you instantiate SwitchboardClient.');
    if (options === null || typeof options !== 'object') throw new Error('You must pass an options object');
    this.key = key;
    this.config = options;
    this.nacl = options.nacl;
    const config = connectionConfig(key, options);
    this.transportsAllowed = config.transportsAllowed;
    this.connection = new Connection(config);
    this.channelAuth = channelAuthorizer(channelAuthorizationOptions(options, (name) => this.channels.find(name) ?? { name }));
    this.user = new User(this, userAuthenticator(userAuthenticationOptions(options)), (error) => this.connection.emit('error', error));
    this.connection.bind('message', (frame: Frame) => this.route(frame));
    this.connection.bind('state_change', (change: { previous: string; current: string }) => {
      if (change.previous === 'connected' && change.current !== 'connected') {
        this.channels.disconnect();
        this.user.disconnected();
      }
    });
    this.connection.bind('connected', () => {
      for (const channel of this.channels.all()) {
        // Unsubscribed while its subscription was pending, then the connection went: it is gone.
        if (channel.subscriptionCancelled) this.channels.remove(channel.name);
        else channel.subscribe();
      }
      this.user.connected();
    });
    SwitchboardClient.instances.push(this);
    if (options.autoConnect !== false) this.connect();
  }

  /** The connection's socket id (`undefined` while not connected). */
  get socketId(): string | undefined {
    return this.connection.socket_id;
  }

  channel(name: string): Channel | undefined {
    return this.channels.find(name);
  }

  allChannels(): Channel[] {
    return this.channels.all();
  }

  subscribe(name: string): Channel {
    const channel = this.channels.add(name, this);
    if (channel.subscriptionPending && channel.subscriptionCancelled) channel.reinstateSubscription();
    else if (!channel.subscriptionPending && !channel.subscribed && this.connection.state === 'connected') channel.subscribe();
    return channel;
  }

  unsubscribe(name: string): void {
    const channel = this.channels.find(name);
    if (channel === undefined) return;
    if (channel.subscriptionPending) {
      channel.cancelSubscription();
      return;
    }
    this.channels.remove(name);
    if (channel.subscribed) channel.unsubscribe();
  }

  bind(event: string, callback: EventCallback, context?: unknown): this {
    this.global_emitter.bind(event, callback, context);
    return this;
  }

  unbind(event?: string | null, callback?: EventCallback | null, context?: unknown): this {
    this.global_emitter.unbind(event, callback, context);
    return this;
  }

  bind_global(callback: GlobalCallback): this {
    this.global_emitter.bind_global(callback);
    return this;
  }

  unbind_global(callback?: GlobalCallback): this {
    this.global_emitter.unbind_global(callback);
    return this;
  }

  unbind_all(): this {
    this.global_emitter.unbind_all();
    return this;
  }

  send_event(event: string, data: unknown, channel?: string): boolean {
    return this.connection.send_event(event, data, channel);
  }

  connect(): void {
    if (!this.transportsAllowed) {
      this.connection.fail('enabledTransports / disabledTransports leave no WebSocket transport (only ws and wss exist here)');
      return;
    }
    this.stopWatching ??= watchEnvironment(this.connection);
    this.connection.connect();
  }

  disconnect(): void {
    this.stopWatching?.();
    this.stopWatching = null;
    this.connection.disconnect();
  }

  signin(): void {
    this.user.signin();
  }

  shouldUseTLS(): boolean {
    return useTLS(this.config);
  }

  /** @internal ChannelHost */
  authorizeChannel(channelName: string, socketId: string, callback: ChannelAuthorizationCallback): void {
    this.channelAuth({ socketId, channelName }, callback);
  }

  /** @internal ChannelHost */
  notify(event: 'recovered' | 'discontinuity', data: RecoveryEvent | DiscontinuityEvent): void {
    this.connection.emit(event, data);
  }

  private route(frame: Frame): void {
    let delivered = true;
    if (!this.user.handle(frame) && frame.channel !== undefined) {
      const channel = this.channels.find(frame.channel);
      if (channel !== undefined) {
        if (frame.event === 'pusher_internal:subscription_succeeded' && channel.subscriptionCancelled) {
          this.channels.remove(channel.name);
          channel.unsubscribe();
          return;
        }
        delivered = channel.handleEvent(frame);
      }
    }
    if (!delivered || frame.event.startsWith('pusher_internal:')) return;
    const metadata: EventMetadata = {};
    if (frame.user_id !== undefined) metadata.user_id = frame.user_id;
    this.global_emitter.emit(frame.event, frame.data, metadata);
  }
}
