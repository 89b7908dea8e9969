/**
 * Subject names the cluster layer uses. Adapters add the deployment prefix.
 * Every variable part is escaped so that it is one token on any broker
 * (NATS splits subjects on '.', and '*' / '>' are wildcards there).
 */

/** Heartbeats, hellos, goodbyes and leader announcements: every node. */
export const MEMBERSHIP_SUBJECT = 'members';
/** Users signing in and out (for watchlists): every node. */
export const USERS_SUBJECT = 'users';
/** Replicated apps' membership (subscriber counts, presence members, full shares): every node. */
export const SHARES_SUBJECT = 'shares';
/** App store changes (src/apps): every node, and `switchboard apps` publishes there too. */
export const APPS_SUBJECT = 'apps';
/** Cluster-wide queries: every node. */
export const REQUEST_SUBJECT = 'requests';
/** The leader lease key. */
export const LEADER_LEASE_KEY = 'leader';

/** Answers addressed to one node. */
export function inboxSubject(nodeId: string): string {
  return `inbox.${escapeToken(nodeId)}`;
}

/** Events and presence changes of one channel: the nodes with local subscribers. */
export function channelSubject(appId: string, channel: string): string {
  return `ch.${escapeToken(appId)}.${escapeToken(channel)}`;
}

/** Keep letters, digits and `_-=@,;:#`; everything else becomes `%XX` (per UTF-16 unit, below 0x100) or `%uXXXX`. */
export function escapeToken(value: string): string {
  return value.replace(/[^A-Za-z0-9_\-=@,;:#]/g, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `%${code.toString(16).padStart(2, '0')}` : `%u${code.toString(16).padStart(4, '0')}`;
  });
}
