import { classifyChannel, MAX_CHANNEL_NAME_LENGTH, MAX_USER_CHANNEL_NAME_LENGTH, USER_CHANNEL_PREFIX } from './channels.js';
import { ErrorCode, SwitchboardError, type ErrorCodeName } from './errors.js';
import { parseRecover, type RecoverRequest } from '../history/recovery.js';

/** Limits on the strings a client frame may carry (the frame itself is capped by the transport). */
const MAX_EVENT_NAME_LENGTH = 200;
const MAX_AUTH_LENGTH = 1000;
const MAX_CHANNEL_DATA_LENGTH = 64 * 1024;
const MAX_USER_DATA_LENGTH = 64 * 1024;

const CLIENT_EVENT_PREFIX = 'client-';

/** A decoded, validated client → server frame. */
export type ClientMessage =
  | { kind: 'ping' }
  | { kind: 'pong' }
  | { kind: 'subscribe'; channel: string; auth?: string; channelData?: string; recover?: RecoverRequest }
  | { kind: 'unsubscribe'; channel: string }
  | { kind: 'signin'; auth: string; userData: string }
  | { kind: 'client-event'; event: string; channel: string; data: unknown }
  /** A well-formed frame with an event this server does not handle. */
  | { kind: 'unknown'; event: string };

export type ParseResult = { ok: true; message: ClientMessage } | { ok: false; error: SwitchboardError };

type JsonObject = { readonly [key: string]: unknown };

const PING: ParseResult = { ok: true, message: { kind: 'ping' } };
const PONG: ParseResult = { ok: true, message: { kind: 'pong' } };

/**
 * Decode one text frame from a client. Never throws: every input, however malformed,
 * yields either a message or a catalogue error for a `pusher:error` reply.
 */
export function parseClientFrame(text: string): ParseResult {
  try {
    return parseFrame(text);
  } catch {
    // Only reachable through a bug in the validation below; still no crash for the node.
    return fail(ErrorCode.InternalError);
  }
}

function parseFrame(text: string): ParseResult {
  if (typeof text !== 'string') return fail(ErrorCode.InvalidJson);
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    return fail(ErrorCode.InvalidJson);
  }
  if (!isObject(frame)) return fail(ErrorCode.FrameNotObject);

  const event = frame.event;
  if (event === undefined || event === null) return fail(ErrorCode.MissingField, 'event');
  if (typeof event !== 'string' || event.length === 0) return fail(ErrorCode.InvalidField, 'event');
  if (event.length > MAX_EVENT_NAME_LENGTH) return fail(ErrorCode.EventNameTooLong);

  switch (event) {
    case 'pusher:ping':
      return PING;
    case 'pusher:pong':
      return PONG;
    case 'pusher:subscribe':
      return parseSubscribe(frame);
    case 'pusher:unsubscribe':
      return parseUnsubscribe(frame);
    case 'pusher:signin':
      return parseSignin(frame);
  }
  if (event.startsWith(CLIENT_EVENT_PREFIX)) return parseClientEvent(event, frame);
  return ok({ kind: 'unknown', event });
}

function parseSubscribe(frame: JsonObject): ParseResult {
  const data = readDataObject(frame);
  if (data instanceof SwitchboardError) return { ok: false, error: data };
  const channel = readChannel(data, 'data.channel');
  if (channel instanceof SwitchboardError) return { ok: false, error: channel };
  const auth = readOptionalString(data, 'auth', MAX_AUTH_LENGTH);
  if (auth instanceof SwitchboardError) return { ok: false, error: auth };
  const channelData = readOptionalString(data, 'channel_data', MAX_CHANNEL_DATA_LENGTH);
  if (channelData instanceof SwitchboardError) return { ok: false, error: channelData };

  const message: ClientMessage = { kind: 'subscribe', channel };
  if (auth !== undefined) message.auth = auth;
  if (channelData !== undefined) message.channelData = channelData;
  // A malformed recover still subscribes: it is answered with recovered: false (docs/history.md).
  const recover = parseRecover(data.recover);
  if (recover !== undefined) message.recover = recover;
  return ok(message);
}

function parseUnsubscribe(frame: JsonObject): ParseResult {
  const data = readDataObject(frame);
  if (data instanceof SwitchboardError) return { ok: false, error: data };
  const channel = readChannel(data, 'data.channel');
  if (channel instanceof SwitchboardError) return { ok: false, error: channel };
  return ok({ kind: 'unsubscribe', channel });
}

function parseSignin(frame: JsonObject): ParseResult {
  const data = readDataObject(frame);
  if (data instanceof SwitchboardError) return { ok: false, error: data };
  const auth = readOptionalString(data, 'auth', MAX_AUTH_LENGTH);
  if (auth instanceof SwitchboardError) return { ok: false, error: auth };
  if (auth === undefined) return fail(ErrorCode.MissingField, 'data.auth');
  const userData = readOptionalString(data, 'user_data', MAX_USER_DATA_LENGTH);
  if (userData instanceof SwitchboardError) return { ok: false, error: userData };
  if (userData === undefined) return fail(ErrorCode.MissingField, 'data.user_data');
  return ok({ kind: 'signin', auth, userData });
}

function parseClientEvent(event: string, frame: JsonObject): ParseResult {
  const channel = readChannel(frame, 'channel');
  if (channel instanceof SwitchboardError) return { ok: false, error: channel };
  // The payload is relayed as the client sent it (object or string), so it is not inspected here;
  // its size limit is per app and checked by the core.
  return ok({ kind: 'client-event', event, channel, data: frame.data });
}

/**
 * `data` of subscribe/unsubscribe/signin: an object, or (older clients) a JSON string of one.
 */
function readDataObject(frame: JsonObject): JsonObject | SwitchboardError {
  const data = frame.data;
  if (isObject(data)) return data;
  if (data === undefined || data === null) return new SwitchboardError(ErrorCode.MissingField, 'data');
  if (typeof data === 'string') {
    try {
      const parsed: unknown = JSON.parse(data);
      if (isObject(parsed)) return parsed;
    } catch {
      // fall through: reported as an invalid field below
    }
  }
  return new SwitchboardError(ErrorCode.InvalidField, 'data must be an object');
}

/** The `channel` field of `holder`; `path` names it in errors (`data.channel` or `channel`). */
function readChannel(holder: JsonObject, path: string): string | SwitchboardError {
  const channel = holder.channel;
  if (channel === undefined || channel === null) return new SwitchboardError(ErrorCode.MissingField, path);
  if (typeof channel !== 'string') return new SwitchboardError(ErrorCode.InvalidField, `${path} must be a string`);
  const limit = channel.startsWith(USER_CHANNEL_PREFIX) ? MAX_USER_CHANNEL_NAME_LENGTH : MAX_CHANNEL_NAME_LENGTH;
  if (channel.length > limit) return new SwitchboardError(ErrorCode.ChannelNameTooLong);
  if (classifyChannel(channel) === null) return new SwitchboardError(ErrorCode.InvalidChannelName, channel);
  return channel;
}

/** A string field that may be absent (undefined or null); anything else must be a string within `maxLength`. */
function readOptionalString(holder: JsonObject, key: string, maxLength: number): string | undefined | SwitchboardError {
  const value = holder[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') return new SwitchboardError(ErrorCode.InvalidField, `data.${key} must be a string`);
  if (value.length > maxLength) return new SwitchboardError(ErrorCode.InvalidField, `data.${key} is too long`);
  return value;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function ok(message: ClientMessage): ParseResult {
  return { ok: true, message };
}

function fail(code: ErrorCodeName, detail?: string): ParseResult {
  return { ok: false, error: new SwitchboardError(code, detail) };
}
