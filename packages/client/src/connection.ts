import { Backoff } from './backoff.js';
import { Dispatcher } from './emitter.js';
import { EndpointPool, fetchEndpoints } from './endpoints.js';
import { clearTimer, host, now, setTimer, type Timer, type WebSocketConstructor, type WebSocketLike } from './host.js';
import { closeAction, decodeFrame, FrameError, type Frame } from './protocol.js';
import { closeQuietly, ConnectionRace, type AttemptFailure, type RaceResult } from './race.js';
import { resolveWebSocket } from './websocket.js';

/** pusher-js's connection states. */
export type ConnectionState = 'initialized' | 'connecting' | 'connected' | 'unavailable' | 'failed' | 'disconnected';

/** Everything the connection needs, resolved from the client's options (see options.ts). */
export interface ConnectionConfig {
  key: string;
  /** Fixed endpoints (`ws[s]://host:port`), also the fallback when discovery fails. */
  endpoints: string[];
  /** The balancer's `GET /endpoints`, read before connecting and when the list is stale. */
  endpointsUrl: string | null;
  endpointsRefreshMs: number;
  forceTLS: boolean | undefined;
  WebSocket: WebSocketConstructor | undefined;
  activityTimeoutMs: number;
  pongTimeoutMs: number;
  connectTimeoutMs: number;
  unavailableTimeoutMs: number;
  staggerMs: number;
  maxInFlight: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** A connection that stays up this long resets the backoff. */
  stableAfterMs: number;
  random: () => number;
}

const noop = (): void => undefined;
// Our own code for a socket we gave up on (pong or handshake timeout): treated as a failover.
const DEAD_CONNECTION = 4999;

/**
 * The connection state machine: one owner for connecting, failing over, backing off, keep-alive
 * and RTT. It emits `state_change` `{previous, current}` and each state's name (pusher-js's
 * events), `message` for every frame that is not keep-alive, `error`, and `connecting_in` (seconds).
 */
export class Connection extends Dispatcher {
  state: ConnectionState = 'initialized';
  socket_id: string | undefined = undefined;
  /** The endpoint the connection is on (its `ws[s]://host:port`), when connected. */
  endpoint: string | null = null;
  readonly pool: EndpointPool;

  private socket: WebSocketLike | null = null;
  private race: ConnectionRace | null = null;
  private readonly backoff: Backoff;
  private generation = 0;
  private wanted = false;
  private everConnected = false;
  private lastDiscovery = 0;
  private lastRoundFailed = false;
  private activityTimeoutMs: number;
  private pingSentAt: number | null = null;
  private lastActivity = 0;
  private retryTimer: Timer = null;
  private activityTimer: Timer = null;
  private pongTimer: Timer = null;
  private stableTimer: Timer = null;
  private unavailableTimer: Timer = null;

  constructor(private readonly config: ConnectionConfig) {
    super();
    this.pool = new EndpointPool(config.endpoints, config.random);
    this.backoff = new Backoff({ minMs: config.backoffMinMs, maxMs: config.backoffMaxMs, random: config.random });
    this.activityTimeoutMs = config.activityTimeoutMs;
  }

  /** True while the client is trying to get back a connection it had. */
  get reconnecting(): boolean {
    return this.wanted && this.everConnected && this.state !== 'connected';
  }

  connect(): void {
    if (this.wanted && (this.state === 'connecting' || this.state === 'connected' || this.state === 'unavailable')) return;
    this.wanted = true;
    this.backoff.reset();
    void this.startRound();
  }

  disconnect(): void {
    this.wanted = false;
    this.generation++;
    this.race?.cancel();
    this.race = null;
    this.clearTimers();
    clearTimer(this.unavailableTimer);
    this.unavailableTimer = null;
    const socket = this.socket;
    this.detach();
    if (socket !== null) closeQuietly(socket);
    this.setState('disconnected');
  }

  /** The client cannot connect at all (no usable transport): `failed`, as in pusher-js. */
  fail(reason: string): void {
    this.disconnect();
    this.emit('error', { type: 'UnsupportedTransport', error: reason });
    this.setState('failed');
  }

  /** Send a raw frame; false when not connected. */
  send(text: string): boolean {
    if (this.socket === null || this.state !== 'connected') return false;
    try {
      this.socket.send(text);
      return true;
    } catch {
      return false;
    }
  }

  send_event(event: string, data: unknown, channel?: string): boolean {
    const frame: { event: string; data: unknown; channel?: string } = { event, data };
    if (channel !== undefined) frame.channel = channel;
    return this.send(JSON.stringify(frame));
  }

  /**
   * Check now that the connection is alive (the page came back to the foreground, the network
   * changed): a ping, and the connection is given up if nothing arrives within `timeoutMs`.
   * When not connected, the pending retry is brought forward instead.
   */
  checkNow(timeoutMs = this.config.pongTimeoutMs): void {
    if (!this.wanted) return;
    if (this.state === 'connected') {
      this.ping(Math.min(timeoutMs, this.config.pongTimeoutMs));
      return;
    }
    if (this.race === null && this.retryTimer !== null) {
      clearTimer(this.retryTimer);
      this.retryTimer = null;
      // Soon, not at once: a whole office coming back online should not arrive in one millisecond.
      this.retryTimer = setTimer(() => void this.startRound(), Math.floor(this.config.random() * Math.min(500, this.config.backoffMinMs)));
    }
  }

  /** The browser says the network is gone: stop burning retries, and verify the current socket. */
  offline(): void {
    if (!this.wanted) return;
    if (this.state === 'connected') this.ping(this.config.pongTimeoutMs);
    else this.setState('unavailable');
  }

  private async startRound(): Promise<void> {
    clearTimer(this.retryTimer);
    this.retryTimer = null;
    if (!this.wanted || this.race !== null) return;
    const generation = ++this.generation;
    if (this.state !== 'unavailable') this.setState('connecting');
    this.unavailableTimer ??= setTimer(() => {
      this.unavailableTimer = null;
      if (this.wanted && this.state === 'connecting') this.setState('unavailable');
    }, this.config.unavailableTimeoutMs);
    const WebSocketImpl = await resolveWebSocket(this.config.WebSocket);
    if (generation !== this.generation) return;
    if (WebSocketImpl === null) {
      this.emit('error', {
        type: 'WebSocketUnavailable',
        error: 'no WebSocket implementation: pass options.WebSocket, or install the `ws` package in Node < 22',
      });
      this.wanted = false;
      this.setState('failed');
      return;
    }
    await this.refreshEndpoints();
    if (generation !== this.generation) return;
    const candidates = this.pool.order();
    this.race = new ConnectionRace(
      candidates,
      WebSocketImpl,
      this.config.key,
      { staggerMs: this.config.staggerMs, maxInFlight: this.config.maxInFlight, timeoutMs: this.config.connectTimeoutMs },
      (result) => this.onRaceDone(generation, result),
      (failure) => this.onAttemptFailed(failure),
    );
  }

  private async refreshEndpoints(): Promise<void> {
    const url = this.config.endpointsUrl;
    if (url === null) return;
    const stale = Date.now() - this.lastDiscovery > this.config.endpointsRefreshMs;
    if (!stale && !this.lastRoundFailed && this.pool.size > 0) return;
    try {
      const found = await fetchEndpoints(url, this.config.connectTimeoutMs, this.config.forceTLS);
      if (found.length > 0) {
        this.pool.replace(
          found.map((e) => e.url),
          new Map(found.map((e) => [e.url, e.elu])),
        );
        this.lastDiscovery = Date.now();
        return;
      }
      this.emit('error', { type: 'DiscoveryError', error: `${url} lists no healthy endpoint` });
    } catch (error) {
      this.emit('error', { type: 'DiscoveryError', error: (error as Error)?.message ?? String(error) });
    }
    if (this.pool.size === 0) this.pool.replace(this.config.endpoints);
  }

  private onAttemptFailed(failure: AttemptFailure): void {
    this.pool.failed(failure.url);
    if (failure.code === 4000) this.upgradeToTLS();
  }

  private onRaceDone(generation: number, result: RaceResult): void {
    if (generation !== this.generation) {
      if (result.ok) closeQuietly(result.winner.socket);
      return;
    }
    this.race = null;
    if (result.ok) {
      this.lastRoundFailed = false;
      this.attach(result.winner.url, result.winner.socket, result.winner.socketId, result.winner.activityTimeoutSec);
      return;
    }
    this.lastRoundFailed = true;
    if (result.refused !== null) {
      this.refuse(result.refused.code ?? 4001, result.refused.reason);
      return;
    }
    if (result.failures.length > 0) this.emit('error', { type: 'WebSocketError', error: result.failures.map((f) => `${f.url}: ${f.reason}`).join('; ') });
    this.scheduleRetry(this.backoff.next());
  }

  private attach(url: string, socket: WebSocketLike, socketId: string, activityTimeoutSec: number | null): void {
    this.socket = socket;
    this.endpoint = url;
    this.socket_id = socketId;
    socket.onerror = noop;
    socket.onmessage = (event) => this.onMessage(event.data);
    socket.onclose = (event) => this.onClose(typeof event?.code === 'number' ? event.code : 1006, typeof event?.reason === 'string' ? event.reason : '');
    this.pool.succeeded(url);
    this.activityTimeoutMs = activityTimeoutSec === null ? this.config.activityTimeoutMs : Math.min(this.config.activityTimeoutMs, activityTimeoutSec * 1000);
    clearTimer(this.unavailableTimer);
    this.unavailableTimer = null;
    this.stableTimer = setTimer(() => this.backoff.reset(), this.config.stableAfterMs);
    this.everConnected = true;
    this.setState('connected', { socket_id: socketId });
    // A first RTT sample right away: choices after a failover then rest on measurements.
    if (this.socket === socket) this.ping(this.config.pongTimeoutMs);
  }

  private onMessage(raw: unknown): void {
    const frame = decodeFrame(raw);
    this.alive();
    if (frame instanceof FrameError) {
      this.emit('error', { type: 'MessageParseError', error: frame.message, data: frame.raw });
      return;
    }
    switch (frame.event) {
      case 'pusher:ping':
        this.send('{"event":"pusher:pong","data":{}}');
        return;
      case 'pusher:pong':
        if (this.pingSentAt !== null && this.endpoint !== null) this.pool.sample(this.endpoint, now() - this.pingSentAt);
        this.pingSentAt = null;
        return;
      case 'pusher:connection_established':
        return;
      case 'pusher:error':
        this.emit('error', { type: 'PusherError', data: frame.data });
        break;
    }
    this.emit('message', frame satisfies Frame);
  }

  private onClose(code: number, reason: string): void {
    const url = this.endpoint;
    this.detach();
    if (!this.wanted) {
      this.setState('disconnected');
      return;
    }
    const action = closeAction(code);
    if (action === 'refused') {
      this.refuse(code, reason);
      return;
    }
    if (url !== null) this.pool.failed(url);
    if (action === 'tls') this.upgradeToTLS();
    this.setState('connecting');
    // "Reconnect now" (drain, ping timeout) and the first failover after a stable connection both
    // land in [0, minMs): immediate enough, and a node's thousands of clients do not return at once.
    if (action === 'now' || action === 'tls') {
      this.backoff.reset();
      this.scheduleRetry(this.backoff.next());
    } else {
      this.scheduleRetry(this.backoff.next());
    }
  }

  /** 4001-4099: the server refuses this app or key; pusher-js stops too. */
  private refuse(code: number, reason: string): void {
    this.emit('error', { type: 'PusherError', data: { code, message: reason } });
    this.wanted = false;
    this.clearTimers();
    clearTimer(this.unavailableTimer);
    this.unavailableTimer = null;
    this.setState('disconnected');
  }

  private scheduleRetry(delayMs: number): void {
    if (!this.wanted) return;
    clearTimer(this.retryTimer);
    if (host.navigator?.onLine === false) {
      // Offline: wait for the 'online' event (checkNow), with the longest backoff as a fallback.
      this.setState('unavailable');
      delayMs = this.config.backoffMaxMs;
    }
    this.emit('connecting_in', Math.round(delayMs) / 1000);
    this.retryTimer = setTimer(() => void this.startRound(), delayMs);
  }

  /**
   * Any frame proves the socket alive: it cancels a pending pong wait and pushes the next keep-alive
   * ping back. Only a timestamp per frame: the one activity timer re-arms itself for what is left.
   */
  private alive(): void {
    this.lastActivity = now();
    if (this.pongTimer !== null) {
      clearTimer(this.pongTimer);
      this.pongTimer = null;
    }
    if (this.activityTimer === null && this.socket !== null) this.armActivity(this.activityTimeoutMs);
  }

  private armActivity(ms: number): void {
    this.activityTimer = setTimer(() => {
      this.activityTimer = null;
      const idle = now() - this.lastActivity;
      if (idle >= this.activityTimeoutMs) this.ping(this.config.pongTimeoutMs);
      else this.armActivity(this.activityTimeoutMs - idle);
    }, ms);
  }

  private ping(timeoutMs: number): void {
    if (this.socket === null) return;
    if (this.pingSentAt === null || now() - this.pingSentAt > this.config.pongTimeoutMs) {
      this.pingSentAt = now();
      this.send('{"event":"pusher:ping","data":{}}');
    }
    clearTimer(this.pongTimer);
    this.pongTimer = setTimer(() => this.dead(), timeoutMs);
    clearTimer(this.activityTimer);
    this.activityTimer = null;
  }

  /** No answer to a ping in time: the socket is gone even if TCP has not noticed. */
  private dead(): void {
    const socket = this.socket;
    if (socket === null) return;
    socket.onclose = null;
    closeQuietly(socket);
    this.onClose(DEAD_CONNECTION, 'no pong within the pong timeout');
  }

  private detach(): void {
    const socket = this.socket;
    if (socket !== null) {
      socket.onmessage = null;
      socket.onclose = null;
    }
    this.socket = null;
    this.endpoint = null;
    this.socket_id = undefined;
    this.pingSentAt = null;
    this.clearTimers();
  }

  private upgradeToTLS(): void {
    const urls = this.pool.list().map((e) => e.url.replace(/^ws:\/\//i, 'wss://'));
    this.pool.replace(urls);
  }

  private clearTimers(): void {
    for (const timer of [this.retryTimer, this.activityTimer, this.pongTimer, this.stableTimer]) clearTimer(timer);
    this.retryTimer = this.activityTimer = this.pongTimer = this.stableTimer = null;
  }

  private setState(next: ConnectionState, data?: unknown): void {
    if (next === this.state) return;
    const previous = this.state;
    this.state = next;
    this.emit('state_change', { previous, current: next });
    this.emit(next, data);
  }
}
