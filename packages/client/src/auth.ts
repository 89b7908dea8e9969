import { host } from './host.js';

/** What an auth endpoint answers for a channel (pusher-js's ChannelAuthorizationData). */
export interface ChannelAuthorizationData {
  auth: string;
  channel_data?: string;
  shared_secret?: string;
}

export interface UserAuthenticationData {
  auth: string;
  user_data: string;
}

export type ChannelAuthorizationCallback = (error: Error | null, data: ChannelAuthorizationData | null) => void;
type UserAuthenticationCallback = (error: Error | null, data: UserAuthenticationData | null) => void;
export type ChannelAuthorizationHandler = (params: { socketId: string; channelName: string }, callback: ChannelAuthorizationCallback) => void;
export type UserAuthenticationHandler = (params: { socketId: string }, callback: UserAuthenticationCallback) => void;

/** pusher-js's auth options: an endpoint reached with `fetch` ("ajax"), or a handler of your own. */
export interface AuthRequestOptions {
  transport?: 'ajax' | 'jsonp';
  endpoint?: string;
  params?: Record<string, unknown>;
  headers?: Record<string, string>;
  paramsProvider?: () => Record<string, unknown>;
  headersProvider?: () => Record<string, string>;
}

export type ChannelAuthorizationOptions = AuthRequestOptions | { customHandler: ChannelAuthorizationHandler };
export type UserAuthenticationOptions = AuthRequestOptions | { customHandler: UserAuthenticationHandler };

/** pusher-js's deprecated `authorizer` option. */
export type ChannelAuthorizerGenerator = (
  channel: { name: string },
  options: unknown,
) => { authorize(socketId: string, callback: (error: Error | null, data: ChannelAuthorizationData | null) => void): void };

/** An auth request that failed, with the endpoint's HTTP status when there was one. */
export class AuthError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}

function formEncode(fields: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue;
    parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(typeof value === 'string' ? value : JSON.stringify(value))}`);
  }
  return parts.join('&');
}

/** POST the form pusher-js posts (`socket_id`, `channel_name`, params) and read the JSON answer. */
async function postForm(options: AuthRequestOptions, fields: Record<string, unknown>, what: string): Promise<Record<string, unknown>> {
  if (options.transport === 'jsonp') throw new AuthError('the jsonp auth transport is not supported; use ajax or a customHandler', 0);
  if (typeof host.fetch !== 'function') throw new AuthError('no fetch() for the auth request; use a customHandler', 0);
  const endpoint = options.endpoint;
  if (typeof endpoint !== 'string' || endpoint === '') throw new AuthError(`no ${what} endpoint`, 0);
  const params = { ...(options.params ?? {}), ...(options.paramsProvider?.() ?? {}) };
  const headers = { 'Content-Type': 'application/x-www-form-urlencoded', ...(options.headers ?? {}), ...(options.headersProvider?.() ?? {}) };
  let response: Awaited<ReturnType<NonNullable<typeof host.fetch>>>;
  try {
    response = await host.fetch(endpoint, { method: 'POST', headers, body: formEncode({ ...fields, ...params }), credentials: 'same-origin' });
  } catch (error) {
    throw new AuthError(`${what} request to ${endpoint} failed: ${(error as Error)?.message ?? String(error)}`, 0);
  }
  const text = await response.text().catch(() => '');
  if (!response.ok)
    throw new AuthError(`${what} endpoint ${endpoint} answered HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`, response.status);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new AuthError(`${what} endpoint ${endpoint} answered something that is not JSON: ${text.slice(0, 200)}`, response.status);
  }
  if (parsed === null || typeof parsed !== 'object' || typeof (parsed as { auth?: unknown }).auth !== 'string') {
    throw new AuthError(`${what} endpoint ${endpoint} answered JSON without an "auth" string`, response.status);
  }
  return parsed as Record<string, unknown>;
}

/** Turn the options into one function the channels call. */
export function channelAuthorizer(options: ChannelAuthorizationOptions): ChannelAuthorizationHandler {
  if ('customHandler' in options && typeof options.customHandler === 'function') return guard(options.customHandler);
  const request = options as AuthRequestOptions;
  return ({ socketId, channelName }, callback) => {
    postForm(request, { socket_id: socketId, channel_name: channelName }, 'channel authorization').then(
      (data) => callback(null, data as unknown as ChannelAuthorizationData),
      (error: Error) => callback(error, null),
    );
  };
}

export function userAuthenticator(options: UserAuthenticationOptions): UserAuthenticationHandler {
  if ('customHandler' in options && typeof options.customHandler === 'function') return guard(options.customHandler);
  const request = options as AuthRequestOptions;
  return ({ socketId }, callback) => {
    postForm(request, { socket_id: socketId }, 'user authentication').then(
      (data) => {
        if (typeof data.user_data !== 'string') callback(new AuthError('user authentication answer has no "user_data" string', 200), null);
        else callback(null, data as unknown as UserAuthenticationData);
      },
      (error: Error) => callback(error, null),
    );
  };
}

/** A handler of the application's that throws, or calls back twice, must not break the subscription. */
function guard<P, D>(
  handler: (params: P, callback: (error: Error | null, data: D | null) => void) => void,
): (params: P, callback: (error: Error | null, data: D | null) => void) => void {
  return (params, callback) => {
    let answered = false;
    const once = (error: Error | null, data: D | null): void => {
      if (answered) return;
      answered = true;
      callback(error, data);
    };
    try {
      handler(params, once);
    } catch (error) {
      once(error instanceof Error ? error : new Error(String(error)), null);
    }
  };
}
