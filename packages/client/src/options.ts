import type { AuthRequestOptions, ChannelAuthorizationOptions, ChannelAuthorizerGenerator, UserAuthenticationOptions } from './auth.js';
import type { NaclLike } from './channels.js';
import type { ConnectionConfig } from './connection.js';
import { host, type WebSocketConstructor } from './host.js';
import { normaliseEndpoint } from './protocol.js';

/** pusher-js's options (the ones that apply to a WebSocket client), and Switchboard's own. */
export interface SwitchboardOptions {
  cluster?: string;
  wsHost?: string;
  wsPort?: number;
  wssPort?: number;
  wsPath?: string;
  forceTLS?: boolean;
  /** Only `ws` / `wss` exist here (no HTTP fallbacks); a list without either leaves the client `failed`. */
  enabledTransports?: string[];
  disabledTransports?: string[];
  channelAuthorization?: ChannelAuthorizationOptions;
  userAuthentication?: UserAuthenticationOptions;
  /** Deprecated in pusher-js, still honoured (laravel-echo passes them). */
  authEndpoint?: string;
  auth?: { params?: Record<string, unknown>; headers?: Record<string, string> };
  authTransport?: 'ajax' | 'jsonp';
  authorizer?: ChannelAuthorizerGenerator;
  /** ms of silence before a keep-alive ping (default 30 s; pusher-js: 120 s). The server's smaller value wins. */
  activityTimeout?: number;
  /** ms to wait for any frame after a ping before giving the socket up (default 5 s; pusher-js: 30 s). */
  pongTimeout?: number;
  /** ms of failing to connect before the state reads `unavailable` (default 10 s). */
  unavailableTimeout?: number;
  /** For `private-encrypted-` channels: tweetnacl (`import nacl from 'tweetnacl'`), as with pusher-js. */
  nacl?: NaclLike;

  /** Switchboard endpoints, `ws[s]://host:port` (several: the client picks and fails over). */
  endpoints?: string[];
  /** The balancer's `GET /endpoints` URL (`http[s]://balancer/endpoints`); `endpoints` are the fallback. */
  endpointsUrl?: string;
  /** Re-read the endpoint list when it is older than this before reconnecting (default 30 s). */
  endpointsRefreshMs?: number;
  /** ms for one connection attempt's handshake (default 8 s). */
  connectTimeout?: number;
  /** RFC 8305 stagger between racing attempts (default 250 ms). */
  stagger?: number;
  /** Attempts in flight at once (default 2). */
  maxInFlight?: number;
  /** Full-jitter backoff ceilings (default 500 ms doubling to 20 s). */
  backoff?: { minMs?: number; maxMs?: number };
  /** A WebSocket implementation (Node 20: `import WebSocket from 'ws'`); default: the global one, else `ws`. */
  WebSocket?: WebSocketConstructor;
  /** Connect from the constructor, as pusher-js does (default true). */
  autoConnect?: boolean;
  /** Random source in [0, 1), for tests. */
  random?: () => number;
  /** Other pusher-js options (stats, HTTP fallbacks) are accepted and ignored. */
  [other: string]: unknown;
}

function positive(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

/** Whether the options allow a WebSocket transport at all, and whether they insist on TLS. */
function transports(options: SwitchboardOptions): { allowed: boolean; tlsOnly: boolean } {
  const enabled = Array.isArray(options.enabledTransports) ? options.enabledTransports : ['ws', 'wss'];
  const disabled = Array.isArray(options.disabledTransports) ? options.disabledTransports : [];
  const ws = enabled.includes('ws') && !disabled.includes('ws');
  const wss = enabled.includes('wss') && !disabled.includes('wss');
  return { allowed: ws || wss, tlsOnly: wss && !ws };
}

/** Whether to use TLS for the endpoint derived from wsHost: forceTLS, else the page's scheme. */
export function useTLS(options: SwitchboardOptions): boolean {
  if (options.forceTLS === true) return true;
  if (transports(options).tlsOnly) return true;
  if (options.forceTLS === false) return false;
  return host.location?.protocol === 'https:';
}

/** The endpoints from `endpoints`, or the one pusher-js would use from wsHost / cluster. */
function staticEndpoints(options: SwitchboardOptions): string[] {
  const tls = options.forceTLS === true || transports(options).tlsOnly ? true : undefined;
  if (Array.isArray(options.endpoints) && options.endpoints.length > 0) {
    const urls = options.endpoints.map((e) => normaliseEndpoint(e, tls)).filter((e): e is string => e !== null);
    if (urls.length === 0) throw new Error('options.endpoints lists no usable ws:// or wss:// URL');
    return urls;
  }
  if (typeof options.endpointsUrl === 'string') return [];
  const secure = useTLS(options);
  const hostName =
    typeof options.wsHost === 'string' && options.wsHost !== ''
      ? options.wsHost
      : `ws-${typeof options.cluster === 'string' && options.cluster !== '' ? options.cluster : 'mt1'}.pusher.com`;
  const port = secure ? positive(options.wssPort, 443) : positive(options.wsPort, 80);
  const path = typeof options.wsPath === 'string' ? options.wsPath : '';
  const url = normaliseEndpoint(
    `${secure ? 'wss' : 'ws'}://${hostName.includes(':') && !hostName.startsWith('[') ? `[${hostName}]` : hostName}:${port}${path}`,
  );
  if (url === null) throw new Error(`cannot build an endpoint from wsHost ${String(options.wsHost)}`);
  return [url];
}

export function connectionConfig(key: string, options: SwitchboardOptions): ConnectionConfig & { transportsAllowed: boolean } {
  const backoff = options.backoff ?? {};
  return {
    key,
    endpoints: staticEndpoints(options),
    endpointsUrl: typeof options.endpointsUrl === 'string' && options.endpointsUrl !== '' ? options.endpointsUrl : null,
    endpointsRefreshMs: positive(options.endpointsRefreshMs, 30_000),
    forceTLS: options.forceTLS === true || transports(options).tlsOnly ? true : undefined,
    WebSocket: typeof options.WebSocket === 'function' ? options.WebSocket : undefined,
    activityTimeoutMs: positive(options.activityTimeout, 30_000),
    pongTimeoutMs: positive(options.pongTimeout, 5_000),
    connectTimeoutMs: positive(options.connectTimeout, 8_000),
    unavailableTimeoutMs: positive(options.unavailableTimeout, 10_000),
    staggerMs: positive(options.stagger, 250),
    maxInFlight: Math.max(1, Math.floor(positive(options.maxInFlight, 2))),
    backoffMinMs: positive(backoff.minMs, 500),
    backoffMaxMs: positive(backoff.maxMs, 20_000),
    stableAfterMs: 5_000,
    random: typeof options.random === 'function' ? options.random : Math.random,
    transportsAllowed: transports(options).allowed,
  };
}

/** pusher-js's rule: `channelAuthorization` if given, else the deprecated authEndpoint / auth / authorizer. */
export function channelAuthorizationOptions(options: SwitchboardOptions, channelOf: (name: string) => { name: string }): ChannelAuthorizationOptions {
  if (options.channelAuthorization !== undefined && options.channelAuthorization !== null) {
    return { transport: 'ajax', endpoint: '/pusher/auth', ...options.channelAuthorization } as ChannelAuthorizationOptions;
  }
  const request: AuthRequestOptions = { transport: options.authTransport ?? 'ajax', endpoint: options.authEndpoint ?? '/pusher/auth' };
  if (options.auth?.params !== undefined) request.params = options.auth.params;
  if (options.auth?.headers !== undefined) request.headers = options.auth.headers;
  const authorizer = options.authorizer;
  if (typeof authorizer === 'function') {
    return {
      customHandler: ({ socketId, channelName }, callback) =>
        authorizer(channelOf(channelName), { ...request, authEndpoint: request.endpoint, auth: options.auth ?? {} }).authorize(socketId, callback),
    };
  }
  return request;
}

export function userAuthenticationOptions(options: SwitchboardOptions): UserAuthenticationOptions {
  return { transport: 'ajax', endpoint: '/pusher/user-auth', ...(options.userAuthentication ?? {}) } as UserAuthenticationOptions;
}
