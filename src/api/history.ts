import type { AppState } from '../core/app-state.js';
import { classifyChannel } from '../protocol/channels.js';
import { ErrorCode, SwitchboardError } from '../protocol/errors.js';
import { jsonReply, type ApiReply } from './reply.js';

const HISTORY_MAX_LIMIT = 1000;
const DEFAULT_LIMIT = 100;

/** One event as the history API lists it. */
interface HistoryItem {
  offset: number;
  event: string;
  data: unknown;
  user_id?: string;
  time_ms: number;
}

/**
 * `GET /apps/{id}/channels/{name}/history?limit=&since=&direction=`: the
 * channel's kept events after `since`, oldest first (`forward`) or newest
 * first (`backward`), with the stream's epoch and last offset. 404 when the
 * channel has no history rule (docs/history.md).
 */
export async function channelHistory(app: AppState, name: string, query: URLSearchParams): Promise<ApiReply> {
  if (classifyChannel(name) === null) throw malformed(`not a valid channel name: '${name.slice(0, 210)}'`);
  const rule = app.history?.ruleFor(name) ?? null;
  if (rule === null) throw new SwitchboardError(ErrorCode.ApiNotFound, 'this channel has no history (no history rule of the app matches it)');
  const limit = integerParam(query, 'limit', DEFAULT_LIMIT, 1, HISTORY_MAX_LIMIT);
  const since = integerParam(query, 'since', 0, 0, Number.MAX_SAFE_INTEGER - 1);
  const direction = query.get('direction') ?? 'forward';
  if (direction !== 'forward' && direction !== 'backward') throw malformed("direction must be 'forward' or 'backward'");
  const read = await app.history!.read(name, rule, { since, limit, direction });
  return jsonReply({ epoch: read.position.epoch, offset: read.position.offset, events: read.events.map((e) => toItem(e.offset, e.json, e.timeMs)) });
}

/** The stored frame back into the API's shape (the frame is ours: event, channel, data, user_id, offset, epoch). */
function toItem(offset: number, json: string, timeMs: number): HistoryItem {
  const frame = JSON.parse(json) as { event: string; data?: unknown; user_id?: string };
  const item: HistoryItem = { offset, event: frame.event, data: frame.data, time_ms: timeMs };
  if (frame.user_id !== undefined) item.user_id = frame.user_id;
  return item;
}

function integerParam(query: URLSearchParams, key: string, fallback: number, min: number, max: number): number {
  const raw = query.get(key);
  if (raw === null || raw === '') return fallback;
  if (!/^[0-9]{1,16}$/.test(raw)) throw malformed(`${key} must be an integer from ${min} to ${max}`);
  const value = Number(raw);
  if (value < min || value > max) throw malformed(`${key} must be an integer from ${min} to ${max}`);
  return value;
}

function malformed(detail: string): SwitchboardError {
  return new SwitchboardError(ErrorCode.ApiMalformedRequest, detail);
}
