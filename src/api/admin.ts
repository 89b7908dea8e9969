import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ErrorCode, SwitchboardError } from '../protocol/errors.js';
import { safeEqual } from '../protocol/signatures.js';
import { CloseCode } from '../protocol/codes.js';
import type { Endpoint, NodeTransport } from '../transport/types.js';
import type { DeadLetter } from '../webhooks/types.js';
import { parseJsonObject, readBody } from './body.js';
import { jsonReply, type ApiReply } from './reply.js';

/** What the admin endpoints need from the webhook pipeline. */
export interface WebhookAdmin {
  listDead(limit: number): Promise<DeadLetter[]>;
  replay(ids?: readonly string[]): Promise<number>;
}

/** Default and largest `limit` of `GET /webhooks/failed`. */
const DEFAULT_FAILED_LIMIT = 100;
const MAX_FAILED_LIMIT = 1000;
/** Most ids one replay request may name. */
const MAX_REPLAY_IDS = 10_000;

/**
 * Check `Authorization: Bearer <token>`. Unset token: the endpoints do not
 * exist (404), so a node without an admin token shows no admin surface.
 */
export function authorizeAdmin(req: IncomingMessage, adminToken: string | undefined): void {
  if (adminToken === undefined) throw new SwitchboardError(ErrorCode.ApiNotFound, 'admin endpoints are off (no adminToken)');
  if (!adminTokenMatches(bearerToken(req), adminToken)) throw new SwitchboardError(ErrorCode.AdminUnauthorized);
}

/** The token of an `Authorization: Bearer <token>` header; null without one. */
export function bearerToken(req: IncomingMessage): string | null {
  const match = /^Bearer[ \t]+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return match === null ? null : (match[1] as string);
}

/** Whether a given token is the admin token (the one comparison every admin surface uses). */
export function adminTokenMatches(given: string | null, adminToken: string): boolean {
  // Digests first, so the comparison takes the same time whatever the given token's length.
  return given !== null && safeEqual(digest(given), digest(adminToken));
}

/** `GET /webhooks/failed?limit=`: the newest dead letters, newest first. */
export async function listFailedWebhooks(admin: WebhookAdmin, query: URLSearchParams): Promise<ApiReply> {
  const raw = query.get('limit');
  let limit = DEFAULT_FAILED_LIMIT;
  if (raw !== null) {
    if (!/^\d{1,6}$/.test(raw)) throw new SwitchboardError(ErrorCode.ApiMalformedRequest, 'limit must be a whole number');
    limit = Math.min(MAX_FAILED_LIMIT, Number(raw));
  }
  const letters = await admin.listDead(limit);
  return jsonReply({
    failed: letters.map((l) => ({
      id: l.batch.id,
      appId: l.batch.appId,
      endpoint: l.batch.endpoint,
      reason: l.reason,
      failedAt: l.failedAt,
      createdAt: l.batch.createdAt,
      body: l.batch.body,
    })),
  });
}

/** `POST /webhooks/replay` with an optional `{"ids": [...]}`: without ids, every dead letter. */
export async function replayWebhooks(admin: WebhookAdmin, req: IncomingMessage, maxBodyBytes: number): Promise<ApiReply> {
  const body = await readBody(req, maxBodyBytes, 'maxHttpBodyBytes');
  let ids: string[] | undefined;
  const given = parseJsonObject(body).ids;
  if (given !== undefined) {
    if (!Array.isArray(given) || given.length > MAX_REPLAY_IDS || !given.every((id) => typeof id === 'string')) {
      throw new SwitchboardError(ErrorCode.ApiMalformedRequest, `ids must be an array of at most ${MAX_REPLAY_IDS} strings`);
    }
    ids = given as string[];
  }
  return jsonReply({ replayed: await admin.replay(ids) });
}

/** Path of the route a balancer calls to move connections elsewhere (src/balancer/rebalancer.ts). */
export const CLOSE_CONNECTIONS_PATH = '/admin/connections/close';
/** At most this many connections per request: the balancer paces, this only bounds a mistake. */
const MAX_CLOSES_PER_REQUEST = 10_000;
const MAX_CLOSE_BODY_BYTES = 1024;

/**
 * `POST /admin/connections/close {"count": N}`: close N of this node's
 * connections with 4200 so that pusher-js reconnects at once, through the
 * balancer, to a less loaded node.
 */
export async function closeConnections(connections: ReadonlySet<Endpoint>, transport: NodeTransport, req: IncomingMessage): Promise<ApiReply> {
  const body = await readBody(req, MAX_CLOSE_BODY_BYTES);
  let count: unknown;
  try {
    count = (JSON.parse(body.toString('utf8')) as { count?: unknown }).count;
  } catch {
    count = undefined;
  }
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0)
    throw new SwitchboardError(ErrorCode.ApiMalformedRequest, 'body must be {"count": a non-negative integer}');
  const wanted = Math.min(count, MAX_CLOSES_PER_REQUEST, connections.size);
  // The youngest connections go first: they hold the least state (fewest
  // subscriptions to replay) and the oldest ones have proven stable.
  const chosen = [...connections].slice(connections.size - wanted);
  for (const endpoint of chosen) transport.close(endpoint, CloseCode.Reconnect, 'Rebalancing: reconnect');
  return jsonReply({ closed: chosen.length, connections: connections.size - chosen.length });
}

function digest(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}
