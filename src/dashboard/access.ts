import type { IncomingMessage } from 'node:http';
import { adminTokenMatches, bearerToken } from '../api/admin.js';

/**
 * Who may see the dashboard: whoever holds the admin token, given as a Bearer
 * header (scripts, tests) or as the cookie the login form sets (browsers:
 * EventSource and page loads cannot send headers).
 */
const SESSION_COOKIE = 'switchboard_admin';

/** Requests that change something must carry this header: a cross-site form cannot set it. */
export const CSRF_HEADER = 'x-switchboard-dashboard';

export function hasAccess(req: IncomingMessage, adminToken: string): boolean {
  return adminTokenMatches(bearerToken(req) ?? cookieValue(req, SESSION_COOKIE), adminToken);
}

/** The Set-Cookie value that keeps a browser signed in to this node's dashboard. */
export function sessionCookie(token: string, secure: boolean): string {
  // HttpOnly: page scripts never read the token; Strict: no other site's page sends it.
  return `${SESSION_COOKIE}=${encodeURIComponent(token)}; Path=/dashboard; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=0`;
}

function cookieValue(req: IncomingMessage, name: string): string | null {
  const header = req.headers.cookie;
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return null;
    }
  }
  return null;
}
