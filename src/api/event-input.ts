import type { AppConfig } from '../config/schema.js';
import { classifyChannel, type ChannelKind } from '../protocol/channels.js';
import { countLimitTrip } from '../metrics/index.js';
import { ErrorCode, SwitchboardError } from '../protocol/errors.js';
import { parseInfo, type InfoRequest } from './info.js';

/** A channel an event goes to, classified once when the request is checked. */
export interface TargetChannel {
  readonly name: string;
  readonly kind: ChannelKind;
}

/** One event to publish, checked against the app's limits. */
export interface ValidEvent {
  name: string;
  data: string;
  channels: TargetChannel[];
  socketId: string | undefined;
  info: InfoRequest;
}

const SOCKET_ID_PATTERN = /^\d+\.\d+$/;
// pusher-js treats `pusher_internal:` events on a channel as the server's own
// (member_added, subscription_succeeded...): a publisher must not be able to forge them.
const RESERVED_EVENT_PREFIX = 'pusher_internal:';

/** Body of `POST /apps/{id}/events`. Throws SwitchboardError (400 or 413). */
export function parseTriggerBody(body: unknown, app: AppConfig): ValidEvent {
  const input = asObject(body, 'the body');
  let channels: TargetChannel[];
  if (input.channels !== undefined) {
    if (input.channel !== undefined) throw malformed('give either channels or channel, not both');
    channels = channelList(input.channels, app);
  } else if (input.channel !== undefined) {
    channels = [channelName(input.channel, 'channel')];
  } else {
    throw malformed('channels is required');
  }
  return eventFields(input, channels, app, '');
}

/** Body of `POST /apps/{id}/batch_events`: every item is checked before any is published. */
export function parseBatchBody(body: unknown, app: AppConfig): ValidEvent[] {
  const batch = asObject(body, 'the body').batch;
  if (!Array.isArray(batch) || batch.length === 0) throw malformed('batch must be a non-empty array');
  if (batch.length > app.maxBatchSize) {
    countLimitTrip('maxBatchSize');
    throw malformed(`batch has ${batch.length} events; this app allows ${app.maxBatchSize}`);
  }
  return batch.map((item: unknown, i) => {
    const where = `batch[${i}]`;
    const input = asObject(item, where);
    if (input.channel === undefined) throw malformed(`${where}.channel is required`);
    return eventFields(input, [channelName(input.channel, `${where}.channel`)], app, `${where}.`);
  });
}

function eventFields(input: Record<string, unknown>, channels: TargetChannel[], app: AppConfig, where: string): ValidEvent {
  const name = input.name;
  if (typeof name !== 'string' || name === '') throw malformed(`${where}name must be a non-empty string`);
  if (name.length > app.maxEventNameLength) {
    countLimitTrip('maxEventNameLength');
    throw malformed(`${where}name is longer than ${app.maxEventNameLength} characters`);
  }
  if (name.startsWith(RESERVED_EVENT_PREFIX)) throw malformed(`${where}name may not start with ${RESERVED_EVENT_PREFIX}`);

  const data = input.data;
  if (typeof data !== 'string') throw malformed(`${where}data must be a string (JSON-encode objects)`);
  const maxDataBytes = Math.floor(app.maxEventPayloadKb * 1024);
  if (exceedsBytes(data, maxDataBytes)) {
    countLimitTrip('maxEventPayloadKb');
    throw new SwitchboardError(ErrorCode.ApiPayloadTooLarge, `${where}data is ${Buffer.byteLength(data, 'utf8')} bytes; this app allows ${maxDataBytes}`);
  }

  const rawSocketId = input.socket_id;
  let socketId: string | undefined;
  if (rawSocketId !== undefined && rawSocketId !== null) {
    if (typeof rawSocketId !== 'string' || !SOCKET_ID_PATTERN.test(rawSocketId)) {
      throw malformed(`${where}socket_id must look like 1234.5678`);
    }
    socketId = rawSocketId;
  }
  return { name, data, channels, socketId, info: parseInfo(input.info) };
}

function channelList(value: unknown, app: AppConfig): TargetChannel[] {
  if (!Array.isArray(value) || value.length === 0) throw malformed('channels must be a non-empty array of channel names');
  if (value.length > app.maxChannelsPerPublish) {
    countLimitTrip('maxChannelsPerPublish');
    throw malformed(`${value.length} channels; this app allows ${app.maxChannelsPerPublish} per event`);
  }
  const targets = value.map((entry: unknown, i) => channelName(entry, `channels[${i}]`));
  // Each encrypted channel has its own key, so one ciphertext can only be meant for one channel.
  if (targets.length > 1 && targets.some((t) => t.kind.type === 'encrypted')) {
    throw malformed('an event for an encrypted channel must name exactly one channel');
  }
  if (targets.length === 1) return targets;
  // The same channel twice would deliver the event twice.
  const seen = new Set<string>();
  return targets.filter((t) => !seen.has(t.name) && seen.add(t.name) !== undefined);
}

function channelName(value: unknown, where: string): TargetChannel {
  const kind = typeof value === 'string' ? classifyChannel(value) : null;
  if (kind === null) {
    const shown = typeof value === 'string' ? `'${value.slice(0, 210)}'` : typeof value;
    throw new SwitchboardError(ErrorCode.ApiMalformedRequest, `${where} is not a valid channel name: ${shown}`);
  }
  return { name: value as string, kind };
}

/** UTF-8 size check that skips the byte count when the UTF-16 length already decides. */
function exceedsBytes(s: string, maxBytes: number): boolean {
  if (s.length > maxBytes) return true;
  if (s.length * 3 <= maxBytes) return false;
  return Buffer.byteLength(s, 'utf8') > maxBytes;
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

function malformed(detail: string): SwitchboardError {
  return new SwitchboardError(ErrorCode.ApiMalformedRequest, detail);
}
