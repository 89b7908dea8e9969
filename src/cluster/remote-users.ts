import { ChannelReplica } from './presence-replica.js';

/** A user that came online on, or went offline from, the other nodes (not counting this one). */
export interface RemoteUserChange {
  readonly appId: string;
  readonly userId: string;
}

/**
 * Which users are signed in on the other nodes, per app: node id → user ids,
 * each user counted once however many nodes they are on. Feeds watchlist
 * online/offline events: only a user's first appearance and last
 * disappearance across the remote nodes is reported.
 */
export class RemoteUsers {
  /** One replica per app; user info is not needed, so members carry none. */
  private readonly apps = new Map<string, ChannelReplica>();

  isOnline(appId: string, userId: string): boolean {
    return this.apps.get(appId)?.has(userId) === true;
  }

  /** On how many other nodes the user is signed in. */
  nodesWith(appId: string, userId: string): number {
    return this.apps.get(appId)?.nodesWith(userId) ?? 0;
  }

  /** A user's first socket on `node` signed in; true when they are new to the remote side. */
  online(node: string, appId: string, userId: string): boolean {
    let replica = this.apps.get(appId);
    if (replica === undefined) this.apps.set(appId, (replica = new ChannelReplica()));
    return replica.join(node, userId, null);
  }

  /** A user's last socket on `node` left; true when they are gone from the remote side. */
  offline(node: string, appId: string, userId: string): boolean {
    const replica = this.apps.get(appId);
    if (replica === undefined) return false;
    const gone = replica.leave(node, userId);
    if (replica.isEmpty) this.apps.delete(appId);
    return gone;
  }

  /** Replace everything `node` had with its full list of [app, user] pairs. */
  replaceNode(node: string, users: ReadonlyArray<readonly [string, string]>): { online: RemoteUserChange[]; offline: RemoteUserChange[] } {
    const byApp = new Map<string, Array<[string, null]>>();
    for (const [appId, userId] of users) {
      let list = byApp.get(appId);
      if (list === undefined) byApp.set(appId, (list = []));
      list.push([userId, null]);
    }
    // Apps the node no longer lists are emptied too: a full list replaces, it does not add.
    for (const appId of this.apps.keys()) if (!byApp.has(appId)) byApp.set(appId, []);
    const online: RemoteUserChange[] = [];
    const offline: RemoteUserChange[] = [];
    for (const [appId, list] of byApp) {
      let replica = this.apps.get(appId);
      if (replica === undefined) this.apps.set(appId, (replica = new ChannelReplica()));
      const { added, removed } = replica.replace(node, list);
      for (const a of added) online.push({ appId, userId: a.userId });
      for (const r of removed) offline.push({ appId, userId: r.userId });
      if (replica.isEmpty) this.apps.delete(appId);
    }
    return { online, offline };
  }

  /** Drop everything a node had (it died or restarted); returns who went offline remotely. */
  dropNode(node: string): RemoteUserChange[] {
    return this.replaceNode(node, []).offline;
  }
}
