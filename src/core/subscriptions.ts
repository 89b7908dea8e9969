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
import type { ClusterLink } from './cluster-link.js';
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
  subscribeWith(conn, req, events, false);
}

/** `remoteMembersKnown`: a clustered presence subscription that already waited for the other nodes' members. */
function subscribeWith(conn: Connection, req: SubscribeRequest, events: CoreEvents, remoteMembersKnown: boolean): void {
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
      const members = existing?.members ?? undefined;
      const cluster = app.cluster;
      if (cluster === null) {
        if (members && !members.has(presenceUserId) && members.size >= app.config.maxPresenceMembersPerChannel) {
          refuseFullChannel(conn, name);
          return;
        }
        break;
      }
      // The limit counts members on every node: wait until the other nodes' members are known.
      if (!remoteMembersKnown && awaitRemoteMembers(conn, req, events, cluster)) return;
      const appId = app.config.id;
      if (members?.has(presenceUserId) !== true && !cluster.hasRemoteMember(appId, name, presenceUserId) && cluster.memberCount(appId, name, members) >= app.config.maxPresenceMembersPerChannel) {
        refuseFullChannel(conn, name);
        // The wait subscribed upstream; with nobody here on the channel, let it go.
        if (existing === undefined) cluster.channelVacated(appId, name);
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
  const firstSubscriber = channel === undefined;
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
  // A node that had no subscribers for a cache channel may hold a stale last event: the cluster knows better.
  const cachePending = kind.cache && cluster !== null ? cluster.cachedEventLookup(app.config.id, name, firstSubscriber) : null;
  if (membersPending || cachePending) {
    // Answer once the other nodes' members and last event are known, so that what the client gets is the cluster's.
    void welcomeWhenKnown(conn, channel, events, membersPending ?? null, cachePending);
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

/**
 * Clustered presence: the member list and the member limit need the other
 * nodes' members. Start receiving the channel (which fetches them) and
 * subscribe again once they are known. False when they are known already.
 */
function awaitRemoteMembers(conn: Connection, req: SubscribeRequest, events: CoreEvents, cluster: ClusterLink): boolean {
  const app = conn.app;
  const appId = app.config.id;
  cluster.channelOccupied(appId, req.channel, true);
  const ready = cluster.presenceReady(appId, req.channel);
  if (ready === null) return false;
  void ready.then(() => {
    if (conn.open) subscribeWith(conn, req, events, true);
    // Nobody stayed for what was fetched: stop receiving the channel.
    else if (!app.channels.has(req.channel)) cluster.channelVacated(appId, req.channel);
  });
  return true;
}

async function welcomeWhenKnown(conn: Connection, channel: Channel, events: CoreEvents, members: Promise<void> | null, cached: Promise<string | undefined> | null): Promise<void> {
  await members;
  let clusterCached: { json: string | undefined } | undefined;
  if (cached !== null) clusterCached = { json: await cached.catch(() => conn.app.cache.get(channel.name)) };
  if (channel.subscribers.has(conn) && conn.app.channels.get(channel.name) === channel) welcome(conn, channel, events, clusterCached);
}

/**
 * subscription_succeeded, then for cache channels the last event or a cache
 * miss (`clusterCached`: the cluster's last event, when it was asked for).
 */
function welcome(conn: Connection, channel: Channel, events: CoreEvents, clusterCached?: { json: string | undefined }): void {
  const app = conn.app;
  sendSucceeded(conn, channel);
  if (channel.kind.cache) {
    const cached = clusterCached !== undefined ? clusterCached.json : app.cache.get(channel.name);
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

function refuseFullChannel(conn: Connection, channelName: string): void {
  metrics.limitTrips.inc({ limit: 'maxPresenceMembersPerChannel' });
  refuse(conn, channelName, new SwitchboardError(ErrorCode.PresenceChannelFull));
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
