import type { AppConfig } from '../config/schema.js';
import { classifyChannel } from '../protocol/channels.js';
import type { CoreApi } from '../core/types.js';
import { parseBatchBody, parseTriggerBody, type ValidEvent } from './event-input.js';
import { channelCounts, wantsAny, type ChannelAttributes } from './info.js';
import { EMPTY_OBJECT_REPLY, jsonReply, type ApiReply } from './reply.js';

/** `POST /apps/{id}/events`: `{}`, or the requested counts per channel. */
export async function triggerEvent(core: CoreApi, app: AppConfig, body: unknown): Promise<ApiReply> {
  const event = parseTriggerBody(body, app);
  publish(core, app, event);
  if (!wantsAny(event.info)) return EMPTY_OBJECT_REPLY;
  // No prototype: `__proto__` is a valid channel name.
  const channels: Record<string, ChannelAttributes> = Object.create(null) as Record<string, ChannelAttributes>;
  for (const name of event.channels) channels[name] = await countsFor(core, app, name, event);
  return jsonReply({ channels });
}

/** `POST /apps/{id}/batch_events`: all items are validated first, so a bad one publishes none. */
export async function triggerBatch(core: CoreApi, app: AppConfig, body: unknown): Promise<ApiReply> {
  const events = parseBatchBody(body, app);
  for (const event of events) publish(core, app, event);
  const batch: ChannelAttributes[] = [];
  for (const event of events) {
    batch.push(wantsAny(event.info) ? await countsFor(core, app, event.channels[0] as string, event) : {});
  }
  return jsonReply({ batch });
}

function publish(core: CoreApi, app: AppConfig, event: ValidEvent): void {
  // The data string goes to the core untouched: it serialises once per channel.
  core.publish(
    event.socketId === undefined
      ? { app, channels: event.channels, event: event.name, data: event.data }
      : { app, channels: event.channels, event: event.name, data: event.data, excludeSocketId: event.socketId },
  );
}

async function countsFor(core: CoreApi, app: AppConfig, channel: string, event: ValidEvent): Promise<ChannelAttributes> {
  const kind = classifyChannel(channel);
  if (kind === null) return {};
  return channelCounts(app, kind, await core.getChannel(app, channel), event.info);
}
