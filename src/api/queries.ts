import type { AppState } from '../core/app-state.js';
import { classifyChannel, isValidUserId, type ChannelKind } from '../protocol/channels.js';
import { ErrorCode, SwitchboardError } from '../protocol/errors.js';
import type { CoreApi } from '../core/types.js';
import { channelCounts, parseInfo, type ChannelAttributes } from './info.js';
import { EMPTY_OBJECT_REPLY, jsonReply, type ApiReply } from './reply.js';

const PRESENCE_PREFIX = 'presence-';

/** `GET /apps/{id}/channels`: occupied channels, `user_count` only for a presence- prefix. */
export async function listChannels(core: CoreApi, app: AppState, query: URLSearchParams): Promise<ApiReply> {
  const prefix = query.get('filter_by_prefix') ?? undefined;
  const info = parseInfo(query.get('info'));
  if (info.userCount && (prefix === undefined || !prefix.startsWith(PRESENCE_PREFIX))) {
    throw malformed('info=user_count needs filter_by_prefix=presence-');
  }
  // No prototype: `__proto__` is a valid channel name.
  const channels: Record<string, ChannelAttributes> = Object.create(null) as Record<string, ChannelAttributes>;
  for (const snapshot of await core.listChannels(app, prefix === '' ? undefined : prefix)) {
    channels[snapshot.name] = info.userCount && snapshot.userCount !== undefined ? { user_count: snapshot.userCount } : {};
  }
  return jsonReply({ channels });
}

interface ChannelState extends ChannelAttributes {
  occupied: boolean;
  cache?: boolean;
}

/** `GET /apps/{id}/channels/{name}`: `occupied` and the requested attributes. */
export async function getChannel(core: CoreApi, app: AppState, name: string, query: URLSearchParams): Promise<ApiReply> {
  const kind = channelKind(name);
  const info = parseInfo(query.get('info'));
  if (info.userCount && kind.type !== 'presence') throw malformed('user_count is only available on presence channels');
  const snapshot = await core.getChannel(app, name);
  const state: ChannelState = { occupied: snapshot !== undefined && snapshot.subscriptionCount > 0 };
  Object.assign(state, channelCounts(app.config, kind, snapshot, info));
  if (info.cache && kind.cache) state.cache = await core.hasCachedEvent(app, name);
  return jsonReply(state);
}

/** `GET /apps/{id}/channels/{name}/users`: the distinct users on a presence channel. */
export async function channelUsers(core: CoreApi, app: AppState, name: string): Promise<ApiReply> {
  if (channelKind(name).type !== 'presence') throw malformed('users can only be listed on presence channels');
  const ids = await core.presenceUserIds(app, name);
  return jsonReply({ users: ids.map((id) => ({ id })) });
}

/** `POST /apps/{id}/users/{user_id}/terminate_connections`. */
export async function terminateUserConnections(core: CoreApi, app: AppState, userId: string): Promise<ApiReply> {
  if (!isValidUserId(userId)) throw malformed('invalid user id');
  await core.terminateUserConnections(app, userId);
  return EMPTY_OBJECT_REPLY;
}

function channelKind(name: string): ChannelKind {
  const kind = classifyChannel(name);
  if (kind === null) throw malformed(`not a valid channel name: '${name.slice(0, 210)}'`);
  return kind;
}

function malformed(detail: string): SwitchboardError {
  return new SwitchboardError(ErrorCode.ApiMalformedRequest, detail);
}
