import { classifyChannel, userIdFromUserChannel } from '../protocol/channels.js';
import { SwitchboardError, ErrorCode } from '../protocol/errors.js';
import { cacheMiss, presenceSubscriptionSucceeded, subscriptionError, subscriptionSucceeded } from '../protocol/frames.js';
import { parsePresenceChannelData, verifyChannelAuth } from '../protocol/signatures.js';
import { countLimitTrip, countProtocolError, historyMetrics } from '../metrics/index.js';
import { send } from './outbox.js';
import { Channel } from './channel.js';
import type { ClusterLink } from './cluster-link.js';
import { addChannel, channelsOf, isSubscribed, removeChannel, type Connection } from './connection.js';
import { LOCAL_NODE } from './membership.js';
import type { RecoverRequest } from '../history/recovery.js';
import { succeededWithPosition } from '../history/frames.js';

export interface SubscribeRequest {
  channel: string;
  auth?: string;
  channelData?: string;
  /** History channels: where the client left off (docs/history.md). */
  recover?: RecoverRequest;
}

/** Handle pusher:subscribe. Every refusal is answered on the wire; nothing throws for bad input. */
export function subscribe(conn: Connection, req: SubscribeRequest): void {
  subscribeWith(conn, req, false);
}

/** `remoteMembersKnown`: a clustered presence subscription that already waited for the other nodes' members. */
function subscribeWith(conn: Connection, req: SubscribeRequest, remoteMembersKnown: boolean): void {
  const name = req.channel;
  const kind = classifyChannel(name);
  if (kind === null) {
    refuse(conn, name, new SwitchboardError(ErrorCode.InvalidChannelName, name.slice(0, 210)));
    return;
  }
  const app = conn.app;
  const existing = app.channels.get(name);
  if (existing !== undefined && isSubscribed(conn, existing)) {
    // Re-subscribing (a client that missed our answer) is answered again, not refused.
    welcome(conn, existing, undefined, req.recover);
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
        if (parsed.error.code === ErrorCode.PresenceUserInfoTooLarge) countLimitTrip('maxPresenceMemberSizeKb');
        refuse(conn, name, parsed.error);
        return;
      }
      presenceUserId = parsed.userId;
      presenceUserInfo = parsed.userInfo;
      const cluster = app.cluster;
      // The limit counts members on every node: wait until the other nodes' members are known.
      if (cluster !== null && !remoteMembersKnown && awaitRemoteMembers(conn, req, cluster)) return;
      if (!app.membership.isMember(name, presenceUserId) && app.membership.memberCount(name) >= app.config.maxPresenceMembersPerChannel) {
        refuseFullChannel(conn, name);
        // The wait subscribed upstream; with nobody here on the channel, let it go.
        if (existing === undefined) cluster?.unwatch(app.config.id, name);
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
  }
  channel.addSubscriber(conn);
  addChannel(conn, channel);
  conn.lastActionAt = conn.lastSeen;
  // The count first: a channel is occupied before anyone is a member of it.
  app.membership.setSubscribers(LOCAL_NODE, name, channel.subscriberCount, channel.isPresence);

  let newMember = false;
  if (presenceUserId !== undefined) {
    (conn.presence ??= new Map()).set(channel, presenceUserId);
    const sockets = channel.members!.get(presenceUserId) ?? 0;
    channel.members!.set(presenceUserId, sockets + 1);
    newMember = sockets === 0;
  }

  const cluster = app.cluster;
  const membersPending = presenceUserId !== undefined ? cluster?.presenceReady(app.config.id, name) : null;
  // A node that had no subscribers for a cache channel may hold a stale last event: the cluster knows better.
  const cachePending = kind.cache && cluster !== null ? cluster.cachedEventLookup(app.config.id, name, firstSubscriber) : null;
  if (newMember) app.membership.memberJoined(LOCAL_NODE, name, presenceUserId!, presenceUserInfo, conn.id);
  if (membersPending || cachePending) {
    // Answer once the other nodes' members and last event are known, so that what the client gets is the cluster's.
    void welcomeWhenKnown(conn, channel, membersPending ?? null, cachePending, req.recover);
  } else {
    welcome(conn, channel, undefined, req.recover);
  }
}

/**
 * Clustered presence: the member list and the member limit need the other
 * nodes' members. Start receiving the channel (which fetches them) and
 * subscribe again once they are known. False when they are known already.
 */
function awaitRemoteMembers(conn: Connection, req: SubscribeRequest, cluster: ClusterLink): boolean {
  const app = conn.app;
  const appId = app.config.id;
  cluster.watch(appId, req.channel, true);
  const ready = cluster.presenceReady(appId, req.channel);
  if (ready === null) return false;
  void ready.then(() => {
    if (conn.open) subscribeWith(conn, req, true);
    // Nobody stayed for what was fetched: stop receiving the channel.
    else if (!app.channels.has(req.channel)) cluster.unwatch(appId, req.channel);
  });
  return true;
}

async function welcomeWhenKnown(
  conn: Connection,
  channel: Channel,
  members: Promise<void> | null,
  cached: Promise<string | undefined> | null,
  recover: RecoverRequest,
): Promise<void> {
  await members;
  let clusterCached: { json: string | undefined } | undefined;
  if (cached !== null) clusterCached = { json: await cached.catch(() => conn.app.cache.get(channel.name)) };
  if (channel.hasSubscriber(conn) && conn.app.channels.get(channel.name) === channel) welcome(conn, channel, clusterCached, recover);
}

/**
 * subscription_succeeded, then for cache channels the last event or a cache
 * miss (`clusterCached`: the cluster's last event, when it was asked for).
 */
function welcome(conn: Connection, channel: Channel, clusterCached?: { json: string | undefined }, recover?: RecoverRequest): void {
  const app = conn.app;
  const rule = app.history?.ruleFor(channel.name) ?? null;
  if (rule !== null) {
    // History channels: the position, then the replay, then the cache channel's last event.
    app.history!.welcome(conn, channel, rule, succeededFrame(conn, channel), recover, () => sendCached(conn, channel, clusterCached));
    return;
  }
  if (recover !== undefined) countRecoverWithoutHistory();
  send(conn, succeededFrame(conn, channel, recover !== undefined));
  sendCached(conn, channel, clusterCached);
}

function sendCached(conn: Connection, channel: Channel, clusterCached?: { json: string | undefined }): void {
  const app = conn.app;
  if (channel.kind.cache) {
    const cached = clusterCached !== undefined ? clusterCached.json : app.cache.get(channel.name);
    send(conn, cached ?? cacheMiss(channel.name));
    if (cached === undefined) app.webhooks?.cacheMiss(channel.name);
  }
}

/** Handle pusher:unsubscribe (and leaving on close). A channel never joined is ignored. */
export function unsubscribe(conn: Connection, channelName: string): void {
  const channel = conn.app.channels.get(channelName);
  if (channel === undefined || !isSubscribed(conn, channel)) return;
  conn.lastActionAt = conn.lastSeen;
  leave(conn, channel);
}

/** Remove a closing connection from every channel it joined. */
export function leaveAll(conn: Connection): void {
  if (conn.channels === null) return;
  for (const channel of channelsOf(conn)) leave(conn, channel);
}

function leave(conn: Connection, channel: Channel): void {
  const app = conn.app;
  channel.removeSubscriber(conn);
  removeChannel(conn, channel);
  const userId = conn.presence?.get(channel);
  if (userId !== undefined) {
    conn.presence!.delete(channel);
    const sockets = (channel.members!.get(userId) ?? 1) - 1;
    if (sockets > 0) {
      channel.members!.set(userId, sockets);
    } else {
      channel.members!.delete(userId);
      app.membership.memberLeft(LOCAL_NODE, channel.name, userId);
    }
  }
  if (channel.subscriberCount === 0) {
    if (channel.countTimer !== null) clearTimeout(channel.countTimer);
    channel.countTimer = null;
    app.channels.delete(channel.name);
    app.gauges.channels.dec();
    app.history?.vacated(channel.name);
  }
  app.membership.setSubscribers(LOCAL_NODE, channel.name, channel.subscriberCount, channel.isPresence);
}

/** subscription_succeeded for the channel; `notRecovered`: a `recover` on a channel without history gets `recovered: false`. */
function succeededFrame(conn: Connection, channel: Channel, notRecovered = false): string {
  const json =
    channel.members !== null ? presenceSubscriptionSucceeded(channel.name, conn.app.membership.members(channel.name)) : subscriptionSucceeded(channel.name);
  return notRecovered ? succeededWithPosition(json, null, false) : json;
}

function refuseFullChannel(conn: Connection, channelName: string): void {
  countLimitTrip('maxPresenceMembersPerChannel');
  refuse(conn, channelName, new SwitchboardError(ErrorCode.PresenceChannelFull));
}

function refuse(conn: Connection, channelName: string, error: SwitchboardError): void {
  countProtocolError(error);
  send(conn, subscriptionError(channelName, error.subscriptionType, error.message, error.httpStatus ?? 400));
}

function countRecoverWithoutHistory(): void {
  historyMetrics.recoveries.inc({ outcome: 'no_history' });
}
