import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { classifyChannel, isValidUserId } from './channels.js';
import { errorCatalogue, ErrorCode, SwitchboardError, type ErrorCodeName } from './errors.js';

/** What signing needs to know about an app. */
export interface AppCredentials {
  key: string;
  secret: string;
  /** The secret before a rotation, valid until `previousSecretExpiresAt` (ms since the epoch). */
  previousSecret?: string | undefined;
  previousSecretExpiresAt?: number | undefined;
}

/**
 * The one rule of which secrets verify a signature: the current one, and
 * after a rotation the previous one until its grace period ends. Signing
 * always uses the current one.
 */
export function verifyingSecrets(app: AppCredentials, nowMs: number = Date.now()): readonly string[] {
  const previous = app.previousSecret;
  if (previous === undefined || previous === app.secret || (app.previousSecretExpiresAt ?? 0) <= nowMs) return [app.secret];
  return [app.secret, previous];
}

/** Whether `given` equals the signature `sign` makes with any verifying secret of the app. */
function matchesAnySecret(app: AppCredentials, given: string, sign: (secret: string) => string): boolean {
  for (const secret of verifyingSecrets(app)) if (safeEqual(given, sign(secret))) return true;
  return false;
}

/** Most entries a sign-in watchlist may carry; extra entries are dropped. */
const MAX_WATCHLIST_LENGTH = 100;

/** Hex HMAC-SHA256, the signature used by every part of the Pusher protocol. */
export function hmacSha256Hex(secret: string, message: string): string {
  return createHmac('sha256', secret).update(message, 'utf8').digest('hex');
}

/** Constant-time string comparison; false (not an exception) when lengths differ. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  if (left.length !== right.length) return false;
  return timingSafeEqual(left, right);
}

/** `auth` for a private/presence/encrypted subscription: `"key:hex"`. */
export function signChannelAuth(app: AppCredentials, socketId: string, channel: string, channelData?: string): string {
  const message = channelData === undefined ? `${socketId}:${channel}` : `${socketId}:${channel}:${channelData}`;
  return `${app.key}:${hmacSha256Hex(app.secret, message)}`;
}

/**
 * Check a subscription's `auth`. Like the server SDKs, the signed string includes
 * `channel_data` whenever the client sent it; a presence channel must have it.
 */
export function verifyChannelAuth(app: AppCredentials, socketId: string, channel: string, auth: string | undefined, channelData?: string): boolean {
  if (auth === undefined) return false;
  if (channelData === undefined && classifyChannel(channel)?.type === 'presence') return false;
  return matchesAnySecret(app, auth, (secret) => signChannelAuth({ key: app.key, secret }, socketId, channel, channelData));
}

/** `auth` for `pusher:signin`: HMAC over `socket_id::user::user_data`. */
export function signUserAuth(app: AppCredentials, socketId: string, userData: string): string {
  return `${app.key}:${hmacSha256Hex(app.secret, `${socketId}::user::${userData}`)}`;
}

export function verifyUserAuth(app: AppCredentials, socketId: string, userData: string, auth: string): boolean {
  return matchesAnySecret(app, auth, (secret) => signUserAuth({ key: app.key, secret }, socketId, userData));
}

export type PresenceDataResult = { ok: true; userId: string; userInfo: unknown } | { ok: false; error: SwitchboardError };

/**
 * Decode a presence subscription's `channel_data`: `{"user_id": string|number, "user_info"?: object}`.
 * Numeric ids are normalised to strings so `1` and `"1"` are the same member.
 */
export function parsePresenceChannelData(s: string | undefined, maxInfoBytes: number): PresenceDataResult {
  if (s === undefined) return fail(ErrorCode.InvalidChannelData, 'channel_data is required on presence channels');
  const parsed = parseJsonObject(s);
  if (parsed === undefined) return fail(ErrorCode.InvalidChannelData, 'channel_data must be a JSON object');

  const rawId = parsed.user_id;
  let userId: string;
  if (typeof rawId === 'string') userId = rawId;
  else if (typeof rawId === 'number' && Number.isFinite(rawId)) userId = String(rawId);
  else return fail(ErrorCode.InvalidChannelData, 'user_id must be a string or a number');
  if (!isValidUserId(userId)) return fail(ErrorCode.InvalidChannelData, 'user_id is empty, too long or has control characters');

  const userInfo = parsed.user_info;
  if (userInfo === undefined || userInfo === null) return { ok: true, userId, userInfo: undefined };
  if (!isObject(userInfo)) return fail(ErrorCode.InvalidChannelData, 'user_info must be an object');
  // Measured on the re-serialised value: that is what every member_added carries.
  if (Buffer.byteLength(JSON.stringify(userInfo), 'utf8') > maxInfoBytes) {
    return fail(ErrorCode.PresenceUserInfoTooLarge, `more than ${maxInfoBytes} bytes`);
  }
  return { ok: true, userId, userInfo };
}

export type UserDataResult = { ok: true; id: string; userInfo: unknown; watchlist: string[] } | { ok: false; error: SwitchboardError };

/** Decode `pusher:signin` `user_data`: `{"id": string, "user_info"?: any, "watchlist"?: string[]}`. */
export function parseUserData(s: string): UserDataResult {
  const parsed = parseJsonObject(s);
  if (parsed === undefined) return fail(ErrorCode.SigninInvalid, 'user_data must be a JSON object');
  const id = parsed.id;
  if (typeof id !== 'string' || !isValidUserId(id)) {
    return fail(ErrorCode.SigninInvalid, 'user_data.id must be a non-empty string without control characters');
  }
  const rawWatchlist = parsed.watchlist;
  let watchlist: string[] = [];
  if (rawWatchlist !== undefined && rawWatchlist !== null) {
    if (!Array.isArray(rawWatchlist) || !rawWatchlist.every((entry): entry is string => typeof entry === 'string')) {
      return fail(ErrorCode.SigninInvalid, 'user_data.watchlist must be an array of strings');
    }
    watchlist = rawWatchlist.slice(0, MAX_WATCHLIST_LENGTH);
  }
  return { ok: true, id, userInfo: parsed.user_info, watchlist };
}

// ---------------------------------------------------------------------------------------------
// HTTP API request signing (server SDKs).

/** The parts of an HTTP API request that its signature covers. */
export interface ApiRequestParts {
  method: string;
  /** URL path without the query string, e.g. `/apps/1/events`. */
  path: string;
  query: URLSearchParams;
  body: Buffer;
}

export type ApiSignatureResult = { ok: true } | { ok: false; status: 400 | 401; message: string };

const API_AUTH_VERSION = '1.0';
const RESERVED_API_PARAMS = ['auth_key', 'auth_timestamp', 'auth_version', 'body_md5', 'auth_signature'];
const TIMESTAMP_PATTERN = /^\d{1,15}$/;

function md5Hex(body: string | Buffer): string {
  return createHash('md5').update(body).digest('hex');
}

/**
 * The string an API request signs: `METHOD\npath\nquery`, where query is every parameter
 * except auth_signature, keys lower-cased and sorted, written `k=v` with the *decoded*
 * values and joined by `&` (the `pusher` SDK signs raw values before URL encoding).
 */
function apiStringToSign(method: string, path: string, params: Iterable<[string, string]>): string {
  const pairs: Array<[string, string]> = [];
  for (const [key, value] of params) {
    const lower = key.toLowerCase();
    if (lower !== 'auth_signature') pairs.push([lower, value]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return `${method.toUpperCase()}\n${path}\n${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`;
}

/** Authenticate an HTTP API request signed by a Pusher server SDK. */
export function verifyApiSignature(parts: ApiRequestParts, app: AppCredentials, nowSeconds: number, maxSkewSeconds = 600): ApiSignatureResult {
  const { query } = parts;
  // A repeated parameter would make the signed string ambiguous.
  const seen = new Set<string>();
  for (const key of query.keys()) {
    const lower = key.toLowerCase();
    if (seen.has(lower)) return reject(ErrorCode.ApiMalformedRequest, `parameter ${lower} is repeated`);
    seen.add(lower);
  }

  const authKey = query.get('auth_key');
  const timestamp = query.get('auth_timestamp');
  const version = query.get('auth_version');
  const signature = query.get('auth_signature');
  if (authKey === null || timestamp === null || version === null || signature === null) {
    return reject(ErrorCode.ApiMissingAuthParams, 'auth_key, auth_timestamp, auth_version and auth_signature are required');
  }
  if (version !== API_AUTH_VERSION) return reject(ErrorCode.ApiMalformedRequest, `auth_version must be ${API_AUTH_VERSION}`);
  if (!TIMESTAMP_PATTERN.test(timestamp)) return reject(ErrorCode.ApiMalformedRequest, 'auth_timestamp must be an integer');
  if (!safeEqual(authKey, app.key)) return reject(ErrorCode.ApiUnknownKey);
  if (Math.abs(nowSeconds - Number(timestamp)) > maxSkewSeconds) return reject(ErrorCode.ApiStaleTimestamp);

  const bodyMd5 = query.get('body_md5');
  if (parts.body.length > 0 && bodyMd5 === null) return reject(ErrorCode.ApiMissingAuthParams, 'body_md5 is required with a body');
  if (bodyMd5 !== null && !safeEqual(bodyMd5.toLowerCase(), md5Hex(parts.body))) return reject(ErrorCode.ApiBodyMd5Mismatch);

  const signed = apiStringToSign(parts.method, parts.path, query);
  if (!matchesAnySecret(app, signature.toLowerCase(), (secret) => hmacSha256Hex(secret, signed))) return reject(ErrorCode.ApiInvalidSignature);
  return { ok: true };
}

/** Sign an API request the way the `pusher` SDK does; returns the full query to send. */
export function signApiRequest(
  method: string,
  path: string,
  params: Record<string, string>,
  body: string | Buffer,
  app: AppCredentials,
  nowSeconds: number,
): URLSearchParams {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (RESERVED_API_PARAMS.includes(key.toLowerCase())) throw new Error(`${key} is set by signApiRequest`);
    query.append(key, value);
  }
  query.append('auth_key', app.key);
  query.append('auth_timestamp', String(Math.floor(nowSeconds)));
  query.append('auth_version', API_AUTH_VERSION);
  if (body.length > 0) query.append('body_md5', md5Hex(body));
  query.append('auth_signature', hmacSha256Hex(app.secret, apiStringToSign(method, path, query)));
  return query;
}

/** `X-Pusher-Signature` of a webhook body. */
export function webhookSignature(secret: string, body: string | Buffer): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

// ---------------------------------------------------------------------------------------------

function reject(code: ErrorCodeName, detail?: string): ApiSignatureResult {
  const entry = errorCatalogue[code];
  const status = entry.httpStatus === 400 ? 400 : 401;
  return { ok: false, status, message: detail === undefined ? entry.message : `${entry.message}: ${detail}` };
}

function fail(code: ErrorCodeName, detail: string): { ok: false; error: SwitchboardError } {
  return { ok: false, error: new SwitchboardError(code, detail) };
}

function parseJsonObject(s: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(s);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
