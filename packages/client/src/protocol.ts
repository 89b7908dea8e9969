/** The Pusher wire protocol as the client reads it: frame decoding, close codes, history positions. */

const PROTOCOL_VERSION = 7;
const CLIENT_NAME = 'switchboard-js';
const CLIENT_VERSION = '0.1.0';

/** One decoded server frame. `data` is JSON-decoded when it was a JSON string (pusher-js does the same). */
export interface Frame {
  event: string;
  channel?: string;
  data?: unknown;
  user_id?: string;
  /** History channels: the event's offset in its channel's stream. */
  offset?: number;
  /** History channels: the name of the unbroken stream the offset belongs to. */
  epoch?: string;
  /** On `subscription_succeeded` after a subscribe with `recover`. */
  recovered?: boolean;
}

export class FrameError extends Error {
  constructor(
    message: string,
    readonly raw: unknown,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

/** Decode one WebSocket message. Never throws: a frame it cannot read comes back as a FrameError. */
export function decodeFrame(raw: unknown): Frame | FrameError {
  if (typeof raw !== 'string') return new FrameError('binary or non-text frame', raw);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return new FrameError('frame is not JSON', raw);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return new FrameError('frame is not an object', raw);
  const record = parsed as Record<string, unknown>;
  if (typeof record.event !== 'string') return new FrameError('frame has no event name', raw);
  if (record.channel !== undefined && typeof record.channel !== 'string') return new FrameError('frame channel is not a string', raw);
  const frame: Frame = { event: record.event };
  if (record.channel !== undefined) frame.channel = record.channel as string;
  if (record.data !== undefined) frame.data = decodeData(record.data);
  if (typeof record.user_id === 'string') frame.user_id = record.user_id;
  if (isOffset(record.offset)) frame.offset = record.offset;
  if (isEpoch(record.epoch)) frame.epoch = record.epoch;
  if (typeof record.recovered === 'boolean') frame.recovered = record.recovered;
  return frame;
}

/** Server data is usually a JSON string; a string that is not JSON is passed on as it is. */
function decodeData(data: unknown): unknown {
  if (typeof data !== 'string') return data;
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}

/** An offset the client will remember: a safe non-negative integer. */
function isOffset(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

const EPOCH = /^[A-Za-z0-9_-]{1,64}$/;

function isEpoch(value: unknown): value is string {
  return typeof value === 'string' && EPOCH.test(value);
}

/** A position in a history channel's stream. */
export interface StreamPosition {
  offset: number;
  epoch: string;
}

/**
 * What a close code asks of the client (Pusher's ranges): `refused` never reconnects by itself
 * (4000-4099: app missing, disabled, over quota...), `tls` retries over TLS (4000), `backoff` waits
 * (4100-4199: over capacity), `now` returns at once, jittered (4200-4299: drain, ping timeout),
 * `failover` is everything else (a crash, a network cut): try another endpoint.
 */
export type CloseAction = 'tls' | 'refused' | 'backoff' | 'now' | 'failover';

export function closeAction(code: number): CloseAction {
  if (code === 4000) return 'tls';
  if (code > 4000 && code < 4100) return 'refused';
  if (code >= 4100 && code < 4200) return 'backoff';
  if (code >= 4200 && code < 4300) return 'now';
  return 'failover';
}

/** The WebSocket URL of an endpoint's app path. `base` is `ws[s]://host[:port][/prefix]`. */
export function socketUrl(base: string, key: string): string {
  const trimmed = base.replace(/\/+$/, '');
  return `${trimmed}/app/${encodeURIComponent(key)}?protocol=${PROTOCOL_VERSION}&client=${CLIENT_NAME}&version=${CLIENT_VERSION}&flash=false`;
}

/** Normalise an endpoint given as `ws://`, `wss://`, `http://`, `https://` or `host:port`; null when unusable. */
export function normaliseEndpoint(value: unknown, forceTLS?: boolean): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return null;
  let url = value.trim();
  if (/^https?:\/\//i.test(url)) url = url.replace(/^http/i, 'ws');
  else if (!/^wss?:\/\//i.test(url)) url = `${forceTLS ? 'wss' : 'ws'}://${url}`;
  if (forceTLS === true) url = url.replace(/^ws:\/\//i, 'wss://');
  if (!/^wss?:\/\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?(\/[^\s?#]*)?$/i.test(url)) return null;
  return url.replace(/\/+$/, '');
}
