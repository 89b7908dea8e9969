import { CloseCode, WsCloseCode } from './codes.js';

/**
 * Stable string codes for every error a client (WebSocket or HTTP) can see.
 * The strings are part of the public surface (logs, docs, tests): never rename one.
 */
export const ErrorCode = {
  // Connection refused or closed: the WebSocket close code tells pusher-js what to do next.
  AppNotFound: 'APP_NOT_FOUND',
  AppDisabled: 'APP_DISABLED',
  AppOverConnectionQuota: 'APP_OVER_CONNECTION_QUOTA',
  PathNotFound: 'PATH_NOT_FOUND',
  InvalidProtocolVersion: 'INVALID_PROTOCOL_VERSION',
  UnsupportedProtocolVersion: 'UNSUPPORTED_PROTOCOL_VERSION',
  NoProtocolVersion: 'NO_PROTOCOL_VERSION',
  OriginNotAllowed: 'ORIGIN_NOT_ALLOWED',
  SigninTimeout: 'SIGNIN_TIMEOUT',
  OverCapacity: 'OVER_CAPACITY',
  ServerShuttingDown: 'SERVER_SHUTTING_DOWN',
  SlowConsumer: 'SLOW_CONSUMER',
  PongTimeout: 'PONG_TIMEOUT',
  InactivityTimeout: 'INACTIVITY_TIMEOUT',
  UserTerminated: 'USER_TERMINATED',
  FrameTooLarge: 'FRAME_TOO_LARGE',

  // Per-message `pusher:error`: the connection stays open.
  InvalidJson: 'INVALID_JSON',
  FrameNotObject: 'FRAME_NOT_OBJECT',
  UnknownEvent: 'UNKNOWN_EVENT',
  MissingField: 'MISSING_FIELD',
  InvalidField: 'INVALID_FIELD',
  InvalidChannelName: 'INVALID_CHANNEL_NAME',
  ChannelNameTooLong: 'CHANNEL_NAME_TOO_LONG',
  EventNameTooLong: 'EVENT_NAME_TOO_LONG',
  ClientEventsDisabled: 'CLIENT_EVENTS_DISABLED',
  ClientEventOnPublicChannel: 'CLIENT_EVENT_ON_PUBLIC_CHANNEL',
  ClientEventOnEncryptedChannel: 'CLIENT_EVENT_ON_ENCRYPTED_CHANNEL',
  ClientEventNotSubscribed: 'CLIENT_EVENT_NOT_SUBSCRIBED',
  ClientEventNameInvalid: 'CLIENT_EVENT_NAME_INVALID',
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  ClientEventRateLimited: 'CLIENT_EVENT_RATE_LIMITED',
  SigninInvalid: 'SIGNIN_INVALID',
  SigninAuthFailed: 'SIGNIN_AUTH_FAILED',
  AlreadySignedIn: 'ALREADY_SIGNED_IN',
  UserChannelForbidden: 'USER_CHANNEL_FORBIDDEN',
  BinaryNotSupported: 'BINARY_NOT_SUPPORTED',

  // `pusher:subscription_error` (the status goes into its data).
  SubscriptionAuthFailed: 'SUBSCRIPTION_AUTH_FAILED',
  PresenceChannelFull: 'PRESENCE_CHANNEL_FULL',
  InvalidChannelData: 'INVALID_CHANNEL_DATA',
  PresenceUserInfoTooLarge: 'PRESENCE_USER_INFO_TOO_LARGE',

  // HTTP API.
  ApiMalformedRequest: 'API_MALFORMED_REQUEST',
  ApiMissingAuthParams: 'API_MISSING_AUTH_PARAMS',
  ApiInvalidSignature: 'API_INVALID_SIGNATURE',
  ApiStaleTimestamp: 'API_STALE_TIMESTAMP',
  ApiUnknownKey: 'API_UNKNOWN_KEY',
  ApiBodyMd5Mismatch: 'API_BODY_MD5_MISMATCH',
  ApiAppDisabled: 'API_APP_DISABLED',
  ApiNotFound: 'API_NOT_FOUND',
  ApiMethodNotAllowed: 'API_METHOD_NOT_ALLOWED',
  ApiPayloadTooLarge: 'API_PAYLOAD_TOO_LARGE',
  ApiHistoryUnavailable: 'API_HISTORY_UNAVAILABLE',
  AdminUnauthorized: 'ADMIN_UNAUTHORIZED',
  InternalError: 'INTERNAL_ERROR',
} as const;
export type ErrorCodeName = (typeof ErrorCode)[keyof typeof ErrorCode];
/** Same type under the constant's name, so `code: ErrorCode` reads naturally. */
export type ErrorCode = ErrorCodeName;

export interface ErrorCatalogueEntry {
  /** Human-readable text sent to the client (a detail may be appended). */
  message: string;
  /** Code in a `pusher:error` frame; `null` is a valid Pusher code ("no specific code"). */
  pusherCode?: number | null;
  /** WebSocket close code when the error ends the connection. */
  closeCode?: number;
  /** HTTP status for the API, or the `status` of a `pusher:subscription_error`. */
  httpStatus?: number;
  /** `type` of a `pusher:subscription_error` (pusher-js shows it to the app). */
  subscriptionErrorType?: string;
}

/** The one catalogue: every client-visible error with its numbers. */
export const errorCatalogue: Readonly<Record<ErrorCodeName, Readonly<ErrorCatalogueEntry>>> = {
  APP_NOT_FOUND: { message: 'App does not exist', closeCode: CloseCode.AppNotFound },
  APP_DISABLED: { message: 'App is disabled', closeCode: CloseCode.AppDisabled },
  APP_OVER_CONNECTION_QUOTA: {
    message: 'App is over its connection quota',
    closeCode: CloseCode.AppOverConnectionQuota,
  },
  PATH_NOT_FOUND: { message: 'Path not found', closeCode: CloseCode.PathNotFound },
  INVALID_PROTOCOL_VERSION: {
    message: 'Invalid protocol version format',
    closeCode: CloseCode.InvalidVersionFormat,
  },
  UNSUPPORTED_PROTOCOL_VERSION: {
    message: 'Unsupported protocol version',
    closeCode: CloseCode.UnsupportedProtocolVersion,
  },
  NO_PROTOCOL_VERSION: { message: 'No protocol version supplied', closeCode: CloseCode.NoProtocolVersion },
  ORIGIN_NOT_ALLOWED: { message: 'Origin not allowed', closeCode: CloseCode.Unauthorized },
  SIGNIN_TIMEOUT: {
    message: 'Connection not signed in within the allowed time',
    closeCode: CloseCode.Unauthorized,
  },
  OVER_CAPACITY: { message: 'Server is over capacity, retry later', closeCode: CloseCode.OverCapacity },
  SERVER_SHUTTING_DOWN: { message: 'Server is shutting down, reconnect', closeCode: CloseCode.Reconnect },
  SLOW_CONSUMER: {
    message: 'Connection could not keep up with its messages, reconnect',
    closeCode: CloseCode.Reconnect,
  },
  PONG_TIMEOUT: { message: 'Pong reply not received', closeCode: CloseCode.PongNotReceived },
  INACTIVITY_TIMEOUT: { message: 'Closed after inactivity', closeCode: CloseCode.ClosedAfterInactivity },
  USER_TERMINATED: { message: "The user's connections were terminated", closeCode: CloseCode.Unauthorized },
  FRAME_TOO_LARGE: { message: 'Frame too large', closeCode: WsCloseCode.MessageTooBig },

  INVALID_JSON: { message: 'Message is not valid JSON', pusherCode: null },
  FRAME_NOT_OBJECT: { message: 'Message must be a JSON object with an event name', pusherCode: null },
  UNKNOWN_EVENT: { message: 'Unsupported event', pusherCode: null },
  MISSING_FIELD: { message: 'Missing required field', pusherCode: null },
  INVALID_FIELD: { message: 'Invalid field', pusherCode: null },
  INVALID_CHANNEL_NAME: { message: 'Invalid channel name', pusherCode: null },
  CHANNEL_NAME_TOO_LONG: { message: 'Channel name too long', pusherCode: null },
  EVENT_NAME_TOO_LONG: { message: 'Event name too long', pusherCode: null },
  CLIENT_EVENTS_DISABLED: { message: 'Client events are not enabled for this app', pusherCode: null },
  CLIENT_EVENT_ON_PUBLIC_CHANNEL: {
    message: 'Client events are only allowed on private and presence channels',
    pusherCode: null,
  },
  CLIENT_EVENT_ON_ENCRYPTED_CHANNEL: {
    message: 'Client events are not allowed on encrypted channels',
    pusherCode: null,
  },
  CLIENT_EVENT_NOT_SUBSCRIBED: {
    message: 'Client event rejected: not subscribed to the channel',
    pusherCode: null,
  },
  CLIENT_EVENT_NAME_INVALID: { message: 'Client event names must start with client-', pusherCode: null },
  PAYLOAD_TOO_LARGE: { message: 'Event payload too large', pusherCode: null },
  CLIENT_EVENT_RATE_LIMITED: {
    message: 'Client event rejected due to rate limit',
    pusherCode: CloseCode.ClientEventRateLimit,
  },
  SIGNIN_INVALID: { message: 'Invalid sign-in user_data', pusherCode: null },
  SIGNIN_AUTH_FAILED: { message: 'Invalid sign-in signature', pusherCode: null },
  ALREADY_SIGNED_IN: { message: 'Connection is already signed in', pusherCode: null },
  USER_CHANNEL_FORBIDDEN: {
    message: 'Only the signed-in user may subscribe to its own user channel',
    pusherCode: null,
    httpStatus: 403,
    subscriptionErrorType: 'AuthError',
  },
  BINARY_NOT_SUPPORTED: { message: 'Binary frames are not supported', pusherCode: null },

  SUBSCRIPTION_AUTH_FAILED: {
    message: 'Invalid signature',
    httpStatus: 401,
    subscriptionErrorType: 'AuthError',
  },
  PRESENCE_CHANNEL_FULL: {
    message: 'Presence channel is full',
    pusherCode: null,
    httpStatus: 403,
    subscriptionErrorType: 'LimitReached',
  },
  INVALID_CHANNEL_DATA: {
    message: 'Invalid channel_data',
    httpStatus: 400,
    subscriptionErrorType: 'AuthError',
  },
  PRESENCE_USER_INFO_TOO_LARGE: {
    message: 'Presence user_info too large',
    httpStatus: 413,
    subscriptionErrorType: 'LimitReached',
  },

  API_MALFORMED_REQUEST: { message: 'Malformed request', httpStatus: 400 },
  API_MISSING_AUTH_PARAMS: { message: 'Missing authentication parameters', httpStatus: 401 },
  API_INVALID_SIGNATURE: { message: 'Invalid signature', httpStatus: 401 },
  API_STALE_TIMESTAMP: { message: 'Timestamp expired: check the server clock', httpStatus: 401 },
  API_UNKNOWN_KEY: { message: 'Unknown auth_key', httpStatus: 401 },
  API_BODY_MD5_MISMATCH: { message: 'body_md5 does not match the body', httpStatus: 401 },
  API_APP_DISABLED: { message: 'App is disabled', httpStatus: 403 },
  API_NOT_FOUND: { message: 'Not found', httpStatus: 404 },
  API_METHOD_NOT_ALLOWED: { message: 'Method not allowed', httpStatus: 405 },
  API_PAYLOAD_TOO_LARGE: { message: 'Request body too large', httpStatus: 413 },
  API_HISTORY_UNAVAILABLE: { message: 'History store unavailable: the event was not published, retry', httpStatus: 503 },
  ADMIN_UNAUTHORIZED: { message: 'Admin endpoint: missing or wrong bearer token', httpStatus: 401 },
  INTERNAL_ERROR: { message: 'Internal server error', httpStatus: 500, closeCode: WsCloseCode.InternalError },
};

/** The one error type: its numbers come from the catalogue, so a code means the same thing everywhere. */
export class SwitchboardError extends Error {
  override readonly name = 'SwitchboardError';
  readonly code: ErrorCodeName;
  /** `undefined` when the error is never sent as `pusher:error`; `null` is Pusher's "no code". */
  readonly pusherCode: number | null | undefined;
  readonly closeCode: number | undefined;
  readonly httpStatus: number | undefined;
  /** The specific part (which field, which channel), also appended to `message`. */
  readonly detail: string | undefined;

  constructor(code: ErrorCodeName, detail?: string) {
    const entry = errorCatalogue[code];
    super(detail === undefined || detail === '' ? entry.message : `${entry.message}: ${detail}`);
    this.code = code;
    this.pusherCode = entry.pusherCode;
    this.closeCode = entry.closeCode;
    this.httpStatus = entry.httpStatus;
    this.detail = detail;
  }

  /** `type` for a `pusher:subscription_error` built from this error. */
  get subscriptionType(): string {
    return errorCatalogue[this.code].subscriptionErrorType ?? 'Error';
  }
}

/** True for strings that are one of the catalogue's codes. */
export function isErrorCode(value: unknown): value is ErrorCodeName {
  return typeof value === 'string' && Object.hasOwn(errorCatalogue, value);
}
