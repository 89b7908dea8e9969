import { SwitchboardError, ErrorCode } from '../protocol/errors.js';
import { signinSuccess, watchlistEvents } from '../protocol/frames.js';
import { parseUserData, verifyUserAuth } from '../protocol/signatures.js';
import { closeFor, send } from './outbox.js';
import type { AppState } from './app-state.js';
import type { Connection } from './connection.js';
import { LOCAL_NODE } from './membership.js';

/** Handle pusher:signin. Returns the error to answer with, or null when signed in. */
export function signIn(conn: Connection, auth: string, userData: string, now: number): SwitchboardError | null {
  const app = conn.app;
  if (conn.user !== null) return new SwitchboardError(ErrorCode.AlreadySignedIn);
  if (!verifyUserAuth(app.config, conn.id, userData, auth)) return new SwitchboardError(ErrorCode.SigninAuthFailed);
  const parsed = parseUserData(userData);
  if (!parsed.ok) return parsed.error;

  conn.user = { id: parsed.id, userInfo: parsed.userInfo, watchlist: parsed.watchlist };
  conn.lastActionAt = now;
  let sockets = app.users.get(parsed.id);
  if (sockets === undefined) app.users.set(parsed.id, (sockets = new Set()));
  sockets.add(conn);
  send(conn, signinSuccess(userData));

  if (parsed.watchlist.length > 0) {
    const online: string[] = [];
    for (const watched of parsed.watchlist) {
      let watchers = app.watchers.get(watched);
      if (watchers === undefined) app.watchers.set(watched, (watchers = new Set()));
      watchers.add(conn);
      if (app.membership.isOnline(watched)) online.push(watched);
    }
    if (online.length > 0) send(conn, watchlistEvents([{ name: 'online', user_ids: online }]));
  }
  // The model tells every watcher if this makes the user online anywhere for the first time.
  if (sockets.size === 1) app.membership.signedIn(LOCAL_NODE, parsed.id);
  return null;
}

/** Forget a closing connection's sign-in; its user goes offline with its last socket. */
export function signOut(conn: Connection): void {
  const user = conn.user;
  if (user === null) return;
  const app = conn.app;
  for (const watched of user.watchlist) {
    const watchers = app.watchers.get(watched);
    if (watchers === undefined) continue;
    watchers.delete(conn);
    if (watchers.size === 0) app.watchers.delete(watched);
  }
  const sockets = app.users.get(user.id);
  if (sockets === undefined) return;
  sockets.delete(conn);
  if (sockets.size === 0) {
    app.users.delete(user.id);
    app.membership.signedOut(LOCAL_NODE, user.id);
  }
}

/** Close every socket signed in as `userId` on this node. */
export function terminateUser(app: AppState, userId: string): number {
  const sockets = app.users.get(userId);
  if (sockets === undefined) return 0;
  let closed = 0;
  for (const conn of [...sockets]) {
    closeFor(conn, new SwitchboardError(ErrorCode.UserTerminated));
    closed++;
  }
  return closed;
}
