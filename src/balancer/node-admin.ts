import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CloseCode } from '../protocol/codes.js';
import { closePeer } from '../transport/outbound.js';
import type { Peer } from '../transport/peer.js';

/** The node's admin route the balancer calls to move connections elsewhere. */
export const CLOSE_CONNECTIONS_PATH = '/admin/connections/close';
/** At most this many connections per request: the balancer paces, this only bounds a mistake. */
const MAX_PER_REQUEST = 10_000;

/** Constant-time comparison of the Bearer token (hashed first so lengths never leak either). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (header === undefined || !header.startsWith('Bearer ')) return false;
  const given = createHash('sha256').update(header.slice(7)).digest();
  const wanted = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, wanted);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * `POST /admin/connections/close {"count": N}`: close N of this node's
 * connections with 4200 so that pusher-js reconnects at once, through the
 * balancer, to a less loaded node. Returns false when the request is not for
 * this route (the API router answers it). 404 when no `adminToken` is set,
 * as if the route did not exist; 401 on a wrong token.
 */
export function handleCloseConnections(req: IncomingMessage, res: ServerResponse, adminToken: string | undefined, connections: () => Iterable<Peer> & { size: number }): boolean {
  const url = req.url ?? '';
  // Cheap test first: this runs before every API request of the node.
  if (!url.startsWith(CLOSE_CONNECTIONS_PATH) || (url.length > CLOSE_CONNECTIONS_PATH.length && url[CLOSE_CONNECTIONS_PATH.length] !== '?')) return false;
  if (adminToken === undefined) {
    send(res, 404, { error: `no route for ${CLOSE_CONNECTIONS_PATH}` });
    return true;
  }
  if (req.method !== 'POST') {
    send(res, 405, { error: 'use POST' });
    return true;
  }
  if (!bearerMatches(req.headers.authorization, adminToken)) {
    send(res, 401, { error: 'bad or missing Bearer token' });
    return true;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size <= 1024) chunks.push(c);
  });
  req.on('end', () => {
    let count: unknown;
    try {
      count = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { count?: unknown }).count;
    } catch {
      count = undefined;
    }
    if (size > 1024 || typeof count !== 'number' || !Number.isInteger(count) || count < 0) {
      send(res, 400, { error: 'body must be {"count": a non-negative integer}' });
      return;
    }
    const all = connections();
    const wanted = Math.min(count, MAX_PER_REQUEST, all.size);
    // The youngest connections go first: they hold the least state (fewest
    // subscriptions to replay) and the oldest ones have proven stable.
    const chosen = [...all].slice(-wanted);
    for (const peer of chosen) closePeer(peer, CloseCode.Reconnect, 'Rebalancing: reconnect');
    send(res, 200, { closed: chosen.length, connections: all.size - chosen.length });
  });
  return true;
}
