import type { IncomingMessage } from 'node:http';
import { MAX_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION } from '../protocol/codes.js';
import { SwitchboardError, ErrorCode } from '../protocol/errors.js';
import type { AppState } from './app-state.js';

const APP_PATH = /^\/app\/([^/]+)\/?$/;

export type Admission =
  | { ok: true; app: AppState }
  | { ok: false; error: SwitchboardError /** Set for a 4100: the limit or the node's load. */; overCapacity?: 'maxConnections' | 'load' };

/**
 * Decide whether a new WebSocket may stay, in the order a client can act on:
 * path, protocol version, app, origin, node capacity (the connection limit,
 * then the monitor's load verdict: `loadRefusal` is its reason, null while
 * the node accepts), app quota.
 */
export function admit(
  req: IncomingMessage,
  appsByKey: Pick<ReadonlyMap<string, AppState>, 'get'>,
  nodeConnections: number,
  maxNodeConnections: number,
  loadRefusal: string | null = null,
): Admission {
  const url = req.url ?? '/';
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const match = APP_PATH.exec(path);
  if (match === null) return refuse(ErrorCode.PathNotFound, path.slice(0, 100));

  const protocol = queryAt === -1 ? null : queryParam(url.slice(queryAt + 1), 'protocol');
  if (protocol === null || protocol === '') return refuse(ErrorCode.NoProtocolVersion);
  if (!/^\d{1,3}$/.test(protocol)) return refuse(ErrorCode.InvalidProtocolVersion);
  const version = Number(protocol);
  if (version < MIN_PROTOCOL_VERSION || version > MAX_PROTOCOL_VERSION) return refuse(ErrorCode.UnsupportedProtocolVersion, protocol);

  const app = appsByKey.get(decodeURIComponentSafe(match[1]!));
  if (app === undefined) return refuse(ErrorCode.AppNotFound);
  const config = app.config;
  if (!config.enabled) return refuse(ErrorCode.AppDisabled);

  const allowed = config.allowedOrigins;
  if (allowed.length > 0 && !allowed.includes('*')) {
    const origin = req.headers.origin;
    if (origin === undefined || !allowed.includes(origin)) return refuse(ErrorCode.OriginNotAllowed, origin);
  }
  if (maxNodeConnections > 0 && nodeConnections >= maxNodeConnections)
    return { ...refuse(ErrorCode.OverCapacity), overCapacity: 'maxConnections' } as Admission;
  if (loadRefusal !== null) return { ...refuse(ErrorCode.OverCapacity, loadRefusal), overCapacity: 'load' } as Admission;
  if (config.maxConnections > 0 && app.connectionCount >= config.maxConnections) return refuse(ErrorCode.AppOverConnectionQuota);
  return { ok: true, app };
}

function refuse(code: ErrorCode, detail?: string): Admission {
  return { ok: false, error: new SwitchboardError(code, detail) };
}

/** One query parameter's raw value, without building a URLSearchParams per connection. */
function queryParam(query: string, name: string): string | null {
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if ((eq === -1 ? pair : pair.slice(0, eq)) === name) return eq === -1 ? '' : pair.slice(eq + 1);
  }
  return null;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
