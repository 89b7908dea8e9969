import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { adminTokenMatches } from '../api/admin.js';
import { readBody } from '../api/body.js';
import { triggerEvent } from '../api/publish.js';
import { errorReply, jsonReply, replyForError, writeReply, type ApiReply } from '../api/reply.js';
import type { Config } from '../config/schema.js';
import type { AppState } from '../core/app-state.js';
import { countLimitTrip, metrics } from '../metrics/index.js';
import { ErrorCode, SwitchboardError } from '../protocol/errors.js';
import type { Logger } from '../util/logger.js';
import { clearedSessionCookie, CSRF_HEADER, hasAccess, sessionCookie } from './access.js';
import { loginPage } from './login-page.js';
import type { DashboardSources } from './snapshot.js';
import { DashboardFeed } from './stream.js';

const PREFIX = '/dashboard';
const require = createRequire(import.meta.url);
// The page's own files ship in the package next to dist/ (assets/dashboard); uPlot comes from its package.
// Paths are resolved when first asked for: a node starts even if an asset's package went missing.
const ASSETS: Readonly<Record<string, { path: () => string; type: string }>> = {
  '/dashboard/assets/app.js': { path: () => fileURLToPath(new URL('../../assets/dashboard/app.js', import.meta.url)), type: 'text/javascript; charset=utf-8' },
  '/dashboard/assets/style.css': { path: () => fileURLToPath(new URL('../../assets/dashboard/style.css', import.meta.url)), type: 'text/css; charset=utf-8' },
  '/dashboard/assets/uplot.js': { path: () => require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/assets/uplot.css': { path: () => require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};
const PAGE = fileURLToPath(new URL('../../assets/dashboard/index.html', import.meta.url));
const APP_ROUTE = /^\/dashboard\/api\/apps\/([^/]+)\/(channels|events)(?:\/([^/]+)(?:\/(users|watch))?)?$/;
/** Largest body of a dashboard request (a debug-console event is bounded by the app's own limit too). */
const MAX_BODY_BYTES = 256 * 1024;

export interface Dashboard {
  /** Answer the request when it is the dashboard's; false leaves it to the HTTP API. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  stop(): void;
}

/**
 * `/dashboard`: the live page, its feed and the debug console, behind the
 * admin token. Without `adminToken` there is no dashboard (404, like the
 * other admin endpoints).
 */
export function createDashboard(config: Config, sources: DashboardSources, logger: Logger): Dashboard {
  const token = config.adminToken;
  const feed = new DashboardFeed(sources, config.dashboardInterval * 1000, logger);
  const cache = new Map<string, Buffer>();
  let watchers = 0;
  if (token !== undefined) feed.start();

  const asset = async (path: string): Promise<Buffer> => {
    let body = cache.get(path);
    if (body === undefined) {
      body = await readFile(path);
      cache.set(path, body);
    }
    return body;
  };

  const serve = async (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<ApiReply | null> => {
    if (token === undefined) throw new SwitchboardError(ErrorCode.ApiNotFound, 'the dashboard is off (no adminToken)');
    const method = req.method ?? 'GET';
    if (path === '/dashboard/login' && method === 'POST') return login(req, token, secure(req, config));
    if (!hasAccess(req, token)) {
      if (path === PREFIX || path === `${PREFIX}/`) return { status: 401, body: loginPage(null), contentType: 'text/html; charset=utf-8' };
      throw new SwitchboardError(ErrorCode.AdminUnauthorized);
    }
    if (method === 'POST' && req.headers[CSRF_HEADER] !== '1')
      throw new SwitchboardError(ErrorCode.AdminUnauthorized, `dashboard requests that change something need the ${CSRF_HEADER} header`);
    if (path === PREFIX || path === `${PREFIX}/`)
      return { status: 200, body: (await asset(PAGE)).toString('utf8'), contentType: 'text/html; charset=utf-8', headers: PAGE_HEADERS };
    if (path === '/dashboard/logout' && method === 'POST') return { status: 200, body: '{}', headers: { 'set-cookie': clearedSessionCookie() } };
    const file = ASSETS[path];
    if (file !== undefined) {
      const body = await asset(file.path());
      res.writeHead(200, { 'content-type': file.type, 'content-length': body.length, 'cache-control': 'no-cache' });
      res.end(body);
      return null;
    }
    if (path === '/dashboard/stream') {
      if (feed.viewerCount >= config.dashboardMaxViewers) {
        countLimitTrip('dashboardMaxViewers');
        return errorReply(503, `at most ${config.dashboardMaxViewers} dashboard viewers per node`);
      }
      feed.add(res);
      return null;
    }
    const match = APP_ROUTE.exec(path);
    if (match === null) throw new SwitchboardError(ErrorCode.ApiNotFound, `no dashboard route for ${path.slice(0, 200)}`);
    const app = await findApp(sources, decode(match[1]!));
    const what = match[2]!;
    const channel = match[3] === undefined ? undefined : decode(match[3]);
    if (what === 'channels' && method === 'GET' && channel === undefined)
      return jsonReply({ channels: await sources.core.listChannels(app, query.get('filter_by_prefix') ?? undefined) });
    if (what === 'channels' && method === 'GET' && channel !== undefined && match[4] === 'users')
      return jsonReply({ users: (await sources.core.presenceUserIds(app, channel)).map((id) => ({ id })) });
    if (what === 'channels' && method === 'GET' && channel !== undefined && match[4] === 'watch') {
      if (watchers >= config.dashboardMaxViewers) {
        countLimitTrip('dashboardMaxViewers');
        return errorReply(503, `at most ${config.dashboardMaxViewers} channel watchers per node`);
      }
      watchers++;
      res.on('close', () => watchers--);
      watchChannel(app, channel, res);
      return null;
    }
    if (what === 'events' && method === 'POST' && channel === undefined) {
      const body = await readBody(req, MAX_BODY_BYTES, 'maxHttpBodyBytes');
      logger.info({ appId: app.config.id }, 'dashboard debug console published an event');
      return triggerEvent(sources.core, app, parseJson(body));
    }
    throw new SwitchboardError(ErrorCode.ApiNotFound, `no dashboard route for ${method} ${path.slice(0, 200)}`);
  };

  return {
    handle(req, res) {
      const url = req.url ?? '/';
      const queryAt = url.indexOf('?');
      const path = queryAt === -1 ? url : url.slice(0, queryAt);
      if (path !== PREFIX && !path.startsWith(`${PREFIX}/`)) return false;
      const query = new URLSearchParams(queryAt === -1 ? '' : url.slice(queryAt + 1));
      serve(req, res, path, query).then(
        (reply) => {
          if (reply !== null) finish(res, reply);
        },
        (err: unknown) => {
          if (err instanceof SwitchboardError) {
            logger.debug({ path: path.slice(0, 200), code: err.code }, 'dashboard request refused');
            finish(res, replyForError(err));
            return;
          }
          metrics.handlerFaults.inc();
          logger.error({ err, path: path.slice(0, 200) }, 'fault while answering a dashboard request');
          if (!res.headersSent) finish(res, errorReply(500, 'internal error'));
          else res.destroy();
        },
      );
      return true;
    },
    stop() {
      feed.stop();
    },
  };

  function finish(res: ServerResponse, reply: ApiReply): void {
    metrics.httpRequests.inc({ route: PREFIX, status: String(reply.status) });
    writeReply(res, reply);
  }
}

// The page runs no inline script and loads nothing from elsewhere.
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'",
  'cache-control': 'no-store',
};

/** `POST /dashboard/login` (form field `token`): the session cookie on success, the form again otherwise. */
async function login(req: IncomingMessage, token: string, secureCookie: boolean): Promise<ApiReply> {
  const body = await readBody(req, 4096);
  const given = new URLSearchParams(body.toString('utf8')).get('token');
  if (!adminTokenMatches(given, token))
    return { status: 401, body: loginPage('That is not this node\u2019s admin token.'), contentType: 'text/html; charset=utf-8' };
  return { status: 303, body: '', contentType: 'text/plain', headers: { location: PREFIX, 'set-cookie': sessionCookie(token, secureCookie) } };
}

/** Stream a channel's events to one viewer as Server-Sent Events, through a tap (never as a subscriber). */
function watchChannel(app: AppState, channel: string, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
  res.write(`retry: 2000\n\n`);
  const stop = app.tap(channel, (json) => {
    // A slow viewer loses events rather than growing this node's memory; the page says so.
    if (res.writableNeedDrain) return;
    res.write(`event: channel-event\ndata: ${json}\n\n`);
  });
  res.on('close', stop);
}

async function findApp(sources: DashboardSources, id: string): Promise<AppState> {
  // With a database store the app may have to be read from it first.
  const app = await sources.core.findApp(id);
  if (app === undefined) throw new SwitchboardError(ErrorCode.ApiNotFound, 'no such app');
  return app;
}

function secure(req: IncomingMessage, config: Config): boolean {
  return config.tlsCert !== undefined || req.headers['x-forwarded-proto'] === 'https';
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new SwitchboardError(ErrorCode.ApiMalformedRequest, 'the path is not valid percent-encoding');
  }
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new SwitchboardError(ErrorCode.ApiMalformedRequest, 'the body is not valid JSON');
  }
}
