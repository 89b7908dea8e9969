import type { Channel, DiscontinuityEvent, RecoveryEvent } from './channels.js';
import { SwitchboardClient } from './client.js';
import type { Members } from './members.js';
import type { SwitchboardOptions } from './options.js';

/**
 * A Laravel Echo connector: `new Echo({ broadcaster: SwitchboardConnector, key, endpoints, ... })`.
 * It behaves as Echo's own Pusher connector (same channel API, same auth defaults, same namespace
 * rules) and also reports `reconnecting` in `connectionStatus()` / `onConnectionChange()`, and
 * recovery: `onRecovered`, `onDiscontinuity`, and `.recovered()` / `.discontinuity()` on channels.
 * It needs nothing from laravel-echo at run time.
 */

type Callback = (...args: any[]) => void;

/** What `connectionStatus()` answers: Echo's values, with `reconnecting` filled in. */
export type EchoConnectionStatus = 'connected' | 'connecting' | 'reconnecting' | 'disconnected' | 'failed';

export interface SwitchboardEchoOptions extends SwitchboardOptions {
  key?: string;
  namespace?: string | false;
  csrfToken?: string | null;
  bearerToken?: string | null;
  /** An existing client, used as it is. */
  client?: SwitchboardClient;
}

const NOTIFICATION_EVENT = '.Illuminate\\Notifications\\Events\\BroadcastNotificationCreated';

/** Echo's event-name rule: a leading `.` or `\` means "as is", otherwise the namespace is prefixed and dots become backslashes. */
function formatEvent(event: string, namespace: string | false | undefined): string {
  if (event.startsWith('.') || event.startsWith('\\')) return event.substring(1);
  const full = namespace ? `${namespace}.${event}` : event;
  return full.replace(/\./g, '\\');
}

export class SwitchboardEchoChannel {
  readonly subscription: Channel;

  constructor(
    protected readonly client: SwitchboardClient,
    readonly name: string,
    protected readonly options: SwitchboardEchoOptions,
  ) {
    this.subscription = client.subscribe(name);
  }

  listen(event: string, callback: Callback): this {
    this.subscription.bind(formatEvent(event, this.options.namespace), callback);
    return this;
  }

  listenToAll(callback: (event: string, data: unknown) => void): this {
    const namespace = String(this.options.namespace ?? '').replace(/\./g, '\\');
    this.subscription.bind_global((event, data) => {
      if (event.startsWith('pusher:') || event.startsWith('switchboard:')) return;
      callback(namespace !== '' && event.startsWith(namespace) ? event.substring(namespace.length + 1) : `.${event}`, data);
    });
    return this;
  }

  stopListening(event: string, callback?: Callback): this {
    this.subscription.unbind(formatEvent(event, this.options.namespace), callback);
    return this;
  }

  stopListeningToAll(callback?: (event: string, data: unknown) => void): this {
    this.subscription.unbind_global(callback);
    return this;
  }

  listenForWhisper(event: string, callback: Callback): this {
    return this.listen(`.client-${event}`, callback);
  }

  stopListeningForWhisper(event: string, callback?: Callback): this {
    return this.stopListening(`.client-${event}`, callback);
  }

  notification(callback: Callback): this {
    return this.listen(NOTIFICATION_EVENT, callback);
  }

  stopListeningForNotification(callback?: Callback): this {
    return this.stopListening(NOTIFICATION_EVENT, callback);
  }

  /** Called on every successful (re)subscription. */
  subscribed(callback: () => void): this {
    return this.on('pusher:subscription_succeeded', () => callback());
  }

  error(callback: (error: unknown) => void): this {
    return this.on('pusher:subscription_error', callback);
  }

  /** After a reconnect: every missed event was replayed (they were delivered to the listeners first). */
  recovered(callback: (event: RecoveryEvent) => void): this {
    return this.on('switchboard:recovered', callback);
  }

  /** After a reconnect: events may have been missed and were not replayed; refetch from the backend. */
  discontinuity(callback: (event: DiscontinuityEvent) => void): this {
    return this.on('switchboard:discontinuity', callback);
  }

  on(event: string, callback: Callback): this {
    this.subscription.bind(event, callback);
    return this;
  }

  subscribe(): void {
    this.client.subscribe(this.name);
  }

  unsubscribe(): void {
    this.client.unsubscribe(this.name);
  }
}

export class SwitchboardEchoPrivateChannel extends SwitchboardEchoChannel {
  whisper(event: string, data: unknown): this {
    this.client.channels.channels[this.name]?.trigger(`client-${event}`, data);
    return this;
  }
}

export class SwitchboardEchoPresenceChannel extends SwitchboardEchoPrivateChannel {
  here(callback: (members: unknown[]) => void): this {
    return this.on('pusher:subscription_succeeded', (members: Members) => callback(Object.keys(members.members).map((id) => members.members[id])));
  }

  joining(callback: (info: unknown) => void): this {
    return this.on('pusher:member_added', (member: { info: unknown }) => callback(member.info));
  }

  leaving(callback: (info: unknown) => void): this {
    return this.on('pusher:member_removed', (member: { info: unknown }) => callback(member.info));
  }
}

function csrfToken(options: SwitchboardEchoOptions): string | null {
  const page = globalThis as unknown as {
    Laravel?: { csrfToken?: string };
    document?: { querySelector?: (s: string) => { getAttribute(n: string): string | null } | null };
  };
  if (page.Laravel?.csrfToken) return page.Laravel.csrfToken;
  if (options.csrfToken) return options.csrfToken;
  return page.document?.querySelector?.('meta[name="csrf-token"]')?.getAttribute('content') ?? null;
}

export class SwitchboardConnector {
  options!: SwitchboardEchoOptions;
  client!: SwitchboardClient;
  channels: Record<string, SwitchboardEchoChannel> = {};

  constructor(options: SwitchboardEchoOptions) {
    this.setOptions(options);
    this.connect();
  }

  /** Echo's defaults: `/broadcasting/auth`, `/broadcasting/user-auth`, the `App.Events` namespace, the CSRF and bearer headers. */
  setOptions(options: SwitchboardEchoOptions): void {
    const auth = { ...(options.auth ?? {}), headers: { ...(options.auth?.headers ?? {}) } };
    const userAuthentication = {
      endpoint: '/broadcasting/user-auth',
      ...(options.userAuthentication ?? {}),
      headers: { ...((options.userAuthentication as { headers?: Record<string, string> } | undefined)?.headers ?? {}) },
    };
    this.options = { authEndpoint: '/broadcasting/auth', namespace: 'App.Events', ...options, auth, userAuthentication };
    const token = csrfToken(options);
    if (token) auth.headers['X-CSRF-TOKEN'] = userAuthentication.headers['X-CSRF-TOKEN'] = token;
    if (options.bearerToken) auth.headers.Authorization = userAuthentication.headers.Authorization = `Bearer ${options.bearerToken}`;
  }

  connect(): void {
    if (this.options.client !== undefined) {
      this.client = this.options.client;
      return;
    }
    if (typeof this.options.key !== 'string') throw new Error('SwitchboardConnector: options.key is required');
    this.client = new SwitchboardClient(this.options.key, this.options);
  }

  /** The underlying client under the name Echo's Pusher connector uses. */
  get pusher(): SwitchboardClient {
    return this.client;
  }

  signin(): void {
    this.client.signin();
  }

  listen(name: string, event: string, callback: Callback): SwitchboardEchoChannel {
    return this.channel(name).listen(event, callback);
  }

  channel(name: string): SwitchboardEchoChannel {
    return (this.channels[name] ??= new SwitchboardEchoChannel(this.client, name, this.options));
  }

  privateChannel(name: string): SwitchboardEchoPrivateChannel {
    return (this.channels[`private-${name}`] ??= new SwitchboardEchoPrivateChannel(
      this.client,
      `private-${name}`,
      this.options,
    )) as SwitchboardEchoPrivateChannel;
  }

  encryptedPrivateChannel(name: string): SwitchboardEchoPrivateChannel {
    return (this.channels[`private-encrypted-${name}`] ??= new SwitchboardEchoPrivateChannel(
      this.client,
      `private-encrypted-${name}`,
      this.options,
    )) as SwitchboardEchoPrivateChannel;
  }

  presenceChannel(name: string): SwitchboardEchoPresenceChannel {
    return (this.channels[`presence-${name}`] ??= new SwitchboardEchoPresenceChannel(
      this.client,
      `presence-${name}`,
      this.options,
    )) as SwitchboardEchoPresenceChannel;
  }

  leave(name: string): void {
    for (const full of [name, `private-${name}`, `private-encrypted-${name}`, `presence-${name}`]) this.leaveChannel(full);
  }

  leaveChannel(name: string): void {
    const channel = this.channels[name];
    if (channel === undefined) return;
    channel.unsubscribe();
    delete this.channels[name];
  }

  socketId(): string | undefined {
    return this.client.connection.socket_id;
  }

  connectionStatus(): EchoConnectionStatus {
    const connection = this.client.connection;
    switch (connection.state) {
      case 'connected':
        return 'connected';
      case 'connecting':
      case 'unavailable':
        return connection.reconnecting ? 'reconnecting' : 'connecting';
      case 'failed':
        return 'failed';
      default:
        return 'disconnected';
    }
  }

  /** Call `callback` with the status on every change; returns the function that stops it. */
  onConnectionChange(callback: (status: EchoConnectionStatus) => void): () => void {
    let last: EchoConnectionStatus | null = null;
    const listener = (): void => {
      const status = this.connectionStatus();
      if (status === last) return;
      last = status;
      callback(status);
    };
    this.client.connection.bind('state_change', listener);
    return () => this.client.connection.unbind('state_change', listener);
  }

  /** Every channel recovery after a reconnect; returns the function that stops it. */
  onRecovered(callback: (event: RecoveryEvent) => void): () => void {
    this.client.connection.bind('recovered', callback);
    return () => this.client.connection.unbind('recovered', callback);
  }

  /** Every channel that lost events it could not recover; returns the function that stops it. */
  onDiscontinuity(callback: (event: DiscontinuityEvent) => void): () => void {
    this.client.connection.bind('discontinuity', callback);
    return () => this.client.connection.unbind('discontinuity', callback);
  }

  disconnect(): void {
    this.client.disconnect();
  }
}
