import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/schema.js';
import type { CoreApi } from '../core/types.js';
import { metrics } from '../metrics/index.js';
import { ErrorCode, SwitchboardError } from '../protocol/errors.js';
import type { Logger } from '../util/logger.js';
import type { Endpoint, NodeTransport } from '../transport/types.js';
import { authorizeAdmin, closeConnections, listFailedWebhooks, replayWebhooks, type WebhookAdmin } from './admin.js';
import { changeApp, listApps, showApp } from './admin-apps.js';
import type { AppManager } from '../apps/manage.js';
import { backendEventPoints, type ApiRateLimits } from '../apps/rate-limits.js';
import { authenticate } from './authenticate.js';
import { alertsReply, scalingReply, type MonitorApi } from './monitor.js';
import { readBody, RequestAborted } from './body.js';
import { liveness, prometheusMetrics, readiness, type HealthState } from './health.js';
import { channelHistory } from './history.js';
import { triggerBatch, triggerEvent } from './publish.js';
import { channelUsers, getChannel, listChannels, terminateUserConnections } from './queries.js';
import { errorReply, jsonReply, replyForError, writeReply, type ApiReply } from './reply.js';
import { matchRoute, UNMATCHED_ROUTE, type RouteParams, type RouteSpec } from './routes.js';

export interface HttpApiDeps {
  core: CoreApi;
  config: Config;
  logger: Logger;
  health(): HealthState;
  /** `GET /cluster`: the nodes, their load and the leader; null when the node runs alone. */
  cluster?(): unknown;
  /** The webhook pipeline's dead letters, for `/webhooks/failed` and `/webhooks/replay` (guarded by `adminToken`). */
  webhooks?: WebhookAdmin;
  /** The resource monitor, for `GET /alerts` and `GET /cluster/scaling`; undefined when it is off. */
  monitor?: MonitorApi;
  /** The node's open connections, for the balancer's `POST /admin/connections/close` (guarded by `adminToken`). */
  connections?: () => ReadonlySet<Endpoint>;
  /** The node's transport, to close those connections. */
  transport?: NodeTransport;
  /** App management (`/admin/apps...`, guarded by `adminToken`). */
  apps?: AppManager;
  /** Per-app HTTP API rate limits (maxBackendEventsPerSecond, maxReadRequestsPerSecond). */
  rateLimits?: ApiRateLimits;
}

/** The request in the shape the routes need: path and query split once. */
interface ApiRequest {
  req: IncomingMessage;
  method: string;
  rawPath: string;
  query: URLSearchParams;
}

const INTERNAL_ERROR_REPLY = replyForError(new SwitchboardError(ErrorCode.InternalError));

/**
 * The node's HTTP side: health, readiness, metrics and the Pusher HTTP API.
 * Every request is answered with a JSON body (errors as `{"error": message}`) and
 * counted by route template and status; nothing a client sends can throw out of it.
 */
export function createHttpHandler(deps: HttpApiDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    serve(deps, req, res).catch((err: unknown) => {
      // Only reachable if answering itself failed; the request is already counted or gone.
      metrics.handlerFaults.inc();
      deps.logger.error({ err, url: req.url?.slice(0, 200) }, 'fault while answering an HTTP request');
      if (!res.headersSent) writeReply(res, INTERNAL_ERROR_REPLY);
      else res.destroy();
    });
  };
}

async function serve(deps: HttpApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const queryStart = url.indexOf('?');
  const request: ApiRequest = {
    req,
    method: req.method ?? 'GET',
    rawPath: queryStart === -1 ? url : url.slice(0, queryStart),
    query: new URLSearchParams(queryStart === -1 ? '' : url.slice(queryStart + 1)),
  };

  const match = matchRoute(request.rawPath);
  const label = match === null ? UNMATCHED_ROUTE : match.route.template;
  let reply: ApiReply;
  try {
    if (match === null) {
      reply = replyForError(new SwitchboardError(ErrorCode.ApiNotFound, `no route for ${request.rawPath.slice(0, 200)}`));
    } else if (request.method !== match.route.method) {
      const refused = replyForError(new SwitchboardError(ErrorCode.ApiMethodNotAllowed, `use ${match.route.method}`));
      reply = { ...refused, headers: { allow: match.route.method } };
    } else if (!match.ok) {
      reply = replyForError(new SwitchboardError(ErrorCode.ApiMalformedRequest, 'the path is not valid percent-encoding'));
    } else {
      reply = await dispatch(deps, request, match.route, match.params);
    }
  } catch (err) {
    if (err instanceof RequestAborted) {
      // Nobody is left to answer; still counted so that aborts show up.
      deps.logger.debug({ route: label, method: request.method }, 'HTTP API request aborted by the client');
      metrics.httpRequests.inc({ route: label, status: 'aborted' });
      return;
    }
    reply = replyForFailure(deps, request, label, err);
  }
  if (!req.complete) {
    // The body was refused before it was read: close rather than read it just to keep the connection.
    reply = { ...reply, headers: { ...reply.headers, connection: 'close' } };
  }
  metrics.httpRequests.inc({ route: label, status: String(reply.status) });
  writeReply(res, reply);
}

async function dispatch(deps: HttpApiDeps, request: ApiRequest, route: RouteSpec, params: RouteParams): Promise<ApiReply> {
  switch (route.name) {
    case 'health':
      return liveness();
    case 'ready':
      return readiness(deps.health());
    case 'cluster':
      return jsonReply(deps.cluster?.() ?? { alone: true, leader: null, nodes: [] });
    case 'metrics':
      return prometheusMetrics();
    case 'alerts':
      return alertsReply(deps.monitor, request.query);
    case 'clusterScaling':
      return scalingReply(deps.monitor);
    case 'closeConnections':
      authorizeAdmin(request.req, deps.connections === undefined ? undefined : deps.config.adminToken);
      return closeConnections(deps.connections!(), deps.transport!, request.req);
    case 'webhooksFailed':
    case 'webhooksReplay': {
      authorizeAdmin(request.req, deps.webhooks === undefined ? undefined : deps.config.adminToken);
      const admin = deps.webhooks as WebhookAdmin;
      return route.name === 'webhooksFailed' ? listFailedWebhooks(admin, request.query) : replayWebhooks(admin, request.req, deps.config.maxHttpBodyBytes);
    }
    case 'appsList':
    case 'appsShow':
    case 'appsChange': {
      authorizeAdmin(request.req, deps.apps === undefined ? undefined : deps.config.adminToken);
      const manager = deps.apps as AppManager;
      if (route.name === 'appsList') return listApps(manager);
      if (route.name === 'appsShow') return showApp(manager, params.appId ?? '', request.query);
      return changeApp(manager, params.appId ?? '', params.action ?? '', request.req, deps.config.maxHttpBodyBytes);
    }
    default:
      break;
  }

  const { core, config } = deps;
  const app = await core.findApp(params.appId ?? '');
  if (app === undefined) throw new SwitchboardError(ErrorCode.ApiNotFound, 'no such app');
  const body = await readBody(request.req, config.maxHttpBodyBytes, 'maxHttpBodyBytes');
  const auth = authenticate(request.method, request.rawPath, request.query, body, app.config, Math.floor(Date.now() / 1000));
  if (!auth.ok) return errorReply(auth.status, auth.message);
  if (!app.config.enabled) throw new SwitchboardError(ErrorCode.ApiAppDisabled);

  if (route.name === 'events' || route.name === 'batchEvents') {
    const input = parseJson(body);
    const limited = await deps.rateLimits?.consume(app.config, 'maxBackendEventsPerSecond', backendEventPoints(route.name, input));
    if (limited) return rateLimitedReply(limited.limit, limited.retryAfterSeconds);
    return route.name === 'events' ? triggerEvent(core, app, input) : triggerBatch(core, app, input);
  }
  if (route.name === 'channels' || route.name === 'channel' || route.name === 'channelUsers') {
    const limited = await deps.rateLimits?.consume(app.config, 'maxReadRequestsPerSecond', 1);
    if (limited) return rateLimitedReply(limited.limit, limited.retryAfterSeconds);
  }

  switch (route.name) {
    case 'channels':
      return listChannels(core, app, request.query);
    case 'channel':
      return getChannel(core, app, params.channel ?? '', request.query);
    case 'channelUsers':
      return channelUsers(core, app, params.channel ?? '');
    case 'channelHistory':
      return channelHistory(app, params.channel ?? '', request.query);
    case 'terminateUserConnections':
      return terminateUserConnections(core, app, params.userId ?? '');
  }
}

/** 429: the app is over one of its API rate limits; `Retry-After` says when to come back. */
function rateLimitedReply(limit: string, retryAfterSeconds: number): ApiReply {
  return errorReply(429, `Rate limit exceeded (${limit})`, { 'retry-after': String(retryAfterSeconds) });
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) throw new SwitchboardError(ErrorCode.ApiMalformedRequest, 'a JSON body is required');
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new SwitchboardError(ErrorCode.ApiMalformedRequest, 'the body is not valid JSON');
  }
}

/** Client errors become their catalogued status; anything else is a fault: logged, counted, 500. */
function replyForFailure(deps: HttpApiDeps, request: ApiRequest, route: string, err: unknown): ApiReply {
  if (err instanceof SwitchboardError) {
    deps.logger.debug({ route, method: request.method, code: err.code, reason: err.message }, 'HTTP API request refused');
    return replyForError(err);
  }
  metrics.handlerFaults.inc();
  deps.logger.error({ err, route, method: request.method }, 'fault while handling an HTTP API request');
  return INTERNAL_ERROR_REPLY;
}
