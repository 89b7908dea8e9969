import type { AppState } from '../core/app-state.js';
import { ErrorCode, SwitchboardError } from '../protocol/errors.js';
import type { ChannelSnapshot, CoreApi } from '../core/types.js';
import { parseBatchBody, parseTriggerBody, type TargetChannel, type ValidEvent } from './event-input.js';
import { channelCounts, wantsAny, type ChannelAttributes } from './info.js';
import { EMPTY_OBJECT_REPLY, jsonReply, type ApiReply } from './reply.js';

/** `POST /apps/{id}/events`: `{}`, or the requested counts per channel. */
export async function triggerEvent(core: CoreApi, app: AppState, body: unknown): Promise<ApiReply> {
  const event = parseTriggerBody(body, app.config);
  await published(publish(core, app, event));
  if (!wantsAny(event.info)) return EMPTY_OBJECT_REPLY;
  // Every channel's counts in one question (one cluster round trip, not one per channel).
  const snapshots = await core.getChannels(
    app,
    event.channels.map((c) => c.name),
  );
  // No prototype: `__proto__` is a valid channel name.
  const channels: Record<string, ChannelAttributes> = Object.create(null) as Record<string, ChannelAttributes>;
  for (const channel of event.channels) channels[channel.name] = countsFor(app, channel, snapshots, event);
  return jsonReply({ channels });
}

/** `POST /apps/{id}/batch_events`: all items are validated first, so a bad one publishes none. */
export async function triggerBatch(core: CoreApi, app: AppState, body: unknown): Promise<ApiReply> {
  const events = parseBatchBody(body, app.config);
  // All are sent before any is awaited: a history store takes them in this order.
  await published(Promise.all(events.map((event) => publish(core, app, event))));
  const asked = events.filter((e) => wantsAny(e.info)).map((e) => e.channels[0]!.name);
  const snapshots = asked.length === 0 ? new Map<string, ChannelSnapshot>() : await core.getChannels(app, [...new Set(asked)]);
  const batch = events.map((event) => (wantsAny(event.info) ? countsFor(app, event.channels[0]!, snapshots, event) : {}));
  return jsonReply({ batch });
}

function publish(core: CoreApi, app: AppState, event: ValidEvent): void | Promise<void> {
  // The data string goes to the core untouched: it serialises once per channel.
  return core.publish(
    event.socketId === undefined
      ? { app, channels: event.channels, event: event.name, data: event.data }
      : { app, channels: event.channels, event: event.name, data: event.data, excludeSocketId: event.socketId },
  );
}

function countsFor(app: AppState, channel: TargetChannel, snapshots: ReadonlyMap<string, ChannelSnapshot>, event: ValidEvent): ChannelAttributes {
  return channelCounts(app.config, channel.kind, snapshots.get(channel.name), event.info);
}

/** A history store that did not take an event (it was not published): 503, so the publisher can retry. */
async function published(appended: void | Promise<unknown>): Promise<void> {
  if (appended === undefined) return;
  try {
    await appended;
  } catch {
    throw new SwitchboardError(ErrorCode.ApiHistoryUnavailable);
  }
}
