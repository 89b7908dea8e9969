import { classifyChannel, userIdFromUserChannel } from '../protocol/channels.js';
import { SwitchboardError, ErrorCode } from '../protocol/errors.js';
import {
  cacheMiss,
  memberAdded,
  memberRemoved,
  presenceSubscriptionSucceeded,
  subscriptionCount,
  subscriptionError,
  subscriptionSucceeded,
} from '../protocol/frames.js';
import { parsePresenceChannelData, verifyChannelAuth } from '../protocol/signatures.js';
import { metrics } from '../metrics/index.js';
import { frameText } from '../transport/frame.js';
import { broadcast, send } from '../transport/outbound.js';
import { Channel, type PresenceMember } from './channel.js';
import type { Connection } from './connection.js';
import type { CoreEvents } from './events.js';

/** Subscription counts are coalesced: at most one broadcast per channel per this many ms. */
const SUBSCRIPTION_COUNT_DEBOUNCE_MS = 200;

export interface SubscribeRequest {
  channel: string;
  auth?: string;
  channelData?: string;
}

/** Handle pusher:subscribe. Every refusal is answered on the wire; nothing throws for bad input. */
export function subscribe(conn: Connection, req: SubscribeRequest, events: CoreEvents): void {
  const name = req.channel;
  const kind = classifyChannel(name);
  if (kind === null) {
    refuse(conn, name, new SwitchboardError(ErrorCode.InvalidChannelName, name.slice(0, 210)));
    return;
  }
  const app = conn.app;
  const existing = app.channels.get(name);
  if (existing !== undefined && conn.channels?.has(existing)) {
    // Re-subscribing (a client that missed our answer) is answered again, not refused.
    sendSucceeded(conn, existing);
    return;
  }

  let presenceUserId: string | undefined;
  let presenceUserInfo: unknown;
  switch (kind.type) {
    case 'public':
      break;
    case 'private':
    case 'encrypted':
      if (!verifyChannelAuth(app.config, conn.id, name, req.auth)) {
        refuse(conn, name, new SwitchboardError(ErrorCode.SubscriptionAuthFailed));
        return;
      }
      break;
    case 'presence': {
      if (!verifyChannelAuth(app.config, conn.id, name, req.auth, req.channelData)) {
        refuse(conn, name, new SwitchboardError(ErrorCode.SubscriptionAuthFailed));
        return;
      }
      const parsed = parsePresenceChannelData(req.channelData, app.config.maxPresenceMemberSizeKb * 1024);
      if (!parsed.ok) {
        refuse(conn, name, parsed.error);
        return;
      }
      presenceUserId = parsed.userId;
      presenceUserInfo = parsed.userInfo;
      const members = existing?.members;
      if (members && !members.has(presenceUserId) && members.size >= app.config.maxPresenceMembersPerChannel) {
        metrics.limitTrips.inc({ limit: 'maxPresenceMembersPerChannel' });
        refuse(conn, name, new SwitchboardError(ErrorCode.PresenceChannelFull));
        return;
      }
      break;
    }
    case 'user':
      if (conn.user === null || userIdFromUserChannel(name) !== conn.user.id) {
        refuse(conn, name, new SwitchboardError(ErrorCode.UserChannelForbidden));
        return;
      }
      break;
  }

  let channel = existing;
  if (channel === undefined) {
    channel = new Channel(name, kind);
    app.channels.set(name, channel);
    app.gauges.channels.inc();
    events.channelOccupied(app, channel);
    app.cluster?.channelOccupied(app.config.id, name, kind.type === 'presence');
  }
  channel.subscribers.add(conn);
  (conn.channels ??= new Set()).add(channel);
  conn.lastActionAt = conn.lastSeen;

  let newMember = false;
  if (presenceUserId !== undefined) {
    (conn.presence ??= new Map()).set(channel, presenceUserId);
    const member = channel.members!.get(presenceUserId);
    if (member === undefined) {
      channel.members!.set(presenceUserId, { userInfo: presenceUserInfo, sockets: 1 });
      newMember = true;
    } else {
      member.sockets++;
    }
  }

  const cluster = app.cluster;
  const membersPending = presenceUserId !== undefined ? cluster?.presenceReady(app.config.id, name) : null;
  if (membersPending) {
    // The channel's first subscriber on this node: answer once the other
    // nodes' members are known, so that the list it gets is the cluster's.
    const joined = channel;
    void membersPending.then(() => {
      if (joined.subscribers.has(conn) && app.channels.get(name) === joined) welcome(conn, joined, events);
    });
  } else {
    welcome(conn, channel, events);
  }
  if (newMember) {
    // A user already present through another node has been announced already.
    if (cluster?.hasRemoteMember(app.config.id, name, presenceUserId!) !== true) {
      broadcast(frameText(memberAdded(name, presenceUserId!, presenceUserInfo)), channel.subscribers, conn.id);
      events.memberAdded(app, channel, presenceUserId!);
    }
    cluster?.localMemberJoined(app.config.id, name, presenceUserId!, presenceUserInfo);
  }
  scheduleSubscriptionCount(conn, channel);
}

/** subscription_succeeded, then for cache channels the last event or a cache miss. */
function welcome(conn: Connection, channel: Channel, events: CoreEvents): void {
  const app = conn.app;
  sendSucceeded(conn, channel);
  if (channel.kind.cache) {
    const cached = app.cache.get(channel.name);
    send(conn, cached ?? cacheMiss(channel.name));
    if (cached === undefined) events.cacheMiss(app, channel);
  }
}

/** Handle pusher:unsubscribe (and leaving on close). A channel never joined is ignored. */
export function unsubscribe(conn: Connection, channelName: string, events: CoreEvents): void {
  const channel = conn.app.channels.get(channelName);
  if (channel === undefined || conn.channels?.has(channel) !== true) return;
  conn.lastActionAt = conn.lastSeen;
  leave(conn, channel, events);
}

/** Remove a closing connection from every channel it joined. */
export function leaveAll(conn: Connection, events: CoreEvents): void {
  const channels = conn.channels;
  if (channels === null) return;
  for (const channel of channels) leave(conn, channel, events);
}

function leave(conn: Connection, channel: Channel, events: CoreEvents): void {
  const app = conn.app;
  channel.subscribers.delete(conn);
  conn.channels!.delete(channel);
  const userId = conn.presence?.get(channel);
  if (userId !== undefined) {
    conn.presence!.delete(channel);
    const member = channel.members!.get(userId);
    if (member !== undefined && --member.sockets === 0) {
      channel.members!.delete(userId);
      // Still present through another node: not gone for anyone.
      if (app.cluster?.hasRemoteMember(app.config.id, channel.name, userId) !== true) {
        if (channel.subscribers.size > 0) broadcast(frameText(memberRemoved(channel.name, userId)), channel.subscribers);
        events.memberRemoved(app, channel, userId);
      }
      app.cluster?.localMemberLeft(app.config.id, channel.name, userId);
    }
  }
  if (channel.subscribers.size === 0) {
    if (channel.countTimer !== null) clearTimeout(channel.countTimer);
    channel.countTimer = null;
    app.channels.delete(channel.name);
    app.gauges.channels.dec();
    events.channelVacated(app, channel);
    app.cluster?.channelVacated(app.config.id, channel.name);
  } else {
    scheduleSubscriptionCount(conn, channel);
  }
}

function sendSucceeded(conn: Connection, channel: Channel): void {
  if (channel.members !== null) {
    const cluster = conn.app.cluster;
    const members = cluster === null ? presenceInfos(channel.members) : clusterPresenceInfos(channel.members, cluster.remoteMembers(conn.app.config.id, channel.name));
    send(conn, presenceSubscriptionSucceeded(channel.name, members));
  } else {
    send(conn, subscriptionSucceeded(channel.name));
  }
}

function* presenceInfos(members: Map<string, PresenceMember>): Iterable<[string, unknown]> {
  for (const [id, member] of members) yield [id, member.userInfo];
}

/** This node's members, then the other nodes' users that are not here too. */
function* clusterPresenceInfos(members: Map<string, PresenceMember>, remote: Iterable<[string, unknown]>): Iterable<[string, unknown]> {
  yield* presenceInfos(members);
  for (const entry of remote) if (!members.has(entry[0])) yield entry;
}

function refuse(conn: Connection, channelName: string, error: SwitchboardError): void {
  metrics.protocolErrors.inc({ code: String(error.httpStatus ?? error.pusherCode ?? 'none') });
  send(conn, subscriptionError(channelName, error.subscriptionType, error.message, error.httpStatus ?? 400));
}

function scheduleSubscriptionCount(conn: Connection, channel: Channel): void {
  if (!conn.app.config.enableSubscriptionCount || channel.isPresence || channel.countTimer !== null) return;
  const app = conn.app;
  channel.countTimer = setTimeout(() => {
    channel.countTimer = null;
    if (app.channels.get(channel.name) !== channel) return;
    broadcast(frameText(subscriptionCount(channel.name, channel.subscribers.size)), channel.subscribers);
  }, SUBSCRIPTION_COUNT_DEBOUNCE_MS);
  channel.countTimer.unref();
}
