/**
 * Pusher protocol close codes and `pusher:error` codes, in one place.
 * Ranges tell the client what to do: 4000-4099 do not reconnect,
 * 4100-4199 reconnect after backoff, 4200-4299 reconnect now.
 */
export const CloseCode = {
  SslOnly: 4000,
  AppNotFound: 4001,
  AppDisabled: 4003,
  AppOverConnectionQuota: 4004,
  PathNotFound: 4005,
  InvalidVersionFormat: 4006,
  UnsupportedProtocolVersion: 4007,
  NoProtocolVersion: 4008,
  Unauthorized: 4009,
  OverCapacity: 4100,
  Reconnect: 4200,
  PongNotReceived: 4201,
  ClosedAfterInactivity: 4202,
  ClientEventRateLimit: 4301,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Plain WebSocket close codes we also use. */
export const WsCloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  UnsupportedData: 1003,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  InternalError: 1011,
} as const;

/** Protocol versions a client may ask for (`?protocol=N`). pusher-js sends 7. */
export const MIN_PROTOCOL_VERSION = 5;
export const MAX_PROTOCOL_VERSION = 7;
