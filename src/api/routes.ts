/** The HTTP routes the node serves, matched without regular expressions or allocation per literal segment. */

type RouteName =
  | 'health'
  | 'ready'
  | 'cluster'
  | 'clusterScaling'
  | 'alerts'
  | 'metrics'
  | 'events'
  | 'batchEvents'
  | 'channels'
  | 'channel'
  | 'channelUsers'
  | 'channelHistory'
  | 'terminateUserConnections'
  | 'webhooksFailed'
  | 'webhooksReplay'
  | 'closeConnections'
  | 'appsList'
  | 'appsShow'
  | 'appsChange';

export interface RouteSpec {
  readonly name: RouteName;
  readonly method: 'GET' | 'POST';
  /** The template, also the `route` metric label (bounded cardinality, unlike raw paths). */
  readonly template: string;
  readonly segments: readonly string[];
}

function route(name: RouteName, method: 'GET' | 'POST', template: string): RouteSpec {
  return { name, method, template, segments: template.split('/').slice(1) };
}

export const ROUTES: readonly RouteSpec[] = [
  route('health', 'GET', '/health'),
  route('ready', 'GET', '/ready'),
  route('cluster', 'GET', '/cluster'),
  route('clusterScaling', 'GET', '/cluster/scaling'),
  route('alerts', 'GET', '/alerts'),
  route('metrics', 'GET', '/metrics'),
  route('webhooksFailed', 'GET', '/webhooks/failed'),
  route('webhooksReplay', 'POST', '/webhooks/replay'),
  route('closeConnections', 'POST', '/admin/connections/close'),
  route('appsList', 'GET', '/admin/apps'),
  route('appsShow', 'GET', '/admin/apps/:appId'),
  route('appsChange', 'POST', '/admin/apps/:appId/:action'),
  route('events', 'POST', '/apps/:appId/events'),
  route('batchEvents', 'POST', '/apps/:appId/batch_events'),
  route('channels', 'GET', '/apps/:appId/channels'),
  route('channel', 'GET', '/apps/:appId/channels/:channel'),
  route('channelUsers', 'GET', '/apps/:appId/channels/:channel/users'),
  route('channelHistory', 'GET', '/apps/:appId/channels/:channel/history'),
  route('terminateUserConnections', 'POST', '/apps/:appId/users/:userId/terminate_connections'),
];

/** Metric label for requests that match no route. */
export const UNMATCHED_ROUTE = 'unmatched';

export type RouteParams = Readonly<Record<string, string>>;

export type RouteMatch =
  | { ok: true; route: RouteSpec; params: RouteParams }
  /** The path names a parameter that is not valid percent-encoding. */
  | { ok: false; route: RouteSpec; reason: 'bad-encoding' };

/**
 * Find the route for a path (without its query string). Parameters are
 * percent-decoded. Null when no template fits; the method is checked by the caller
 * so that it can answer 405 rather than 404.
 */
export function matchRoute(pathname: string): RouteMatch | null {
  const parts = pathname.split('/');
  // A path always starts with '/', so parts[0] is ''.
  if (parts[0] !== '') return null;
  for (const spec of ROUTES) {
    if (spec.segments.length !== parts.length - 1) continue;
    const params: Record<string, string> = {};
    let fits = true;
    let badEncoding = false;
    for (let i = 0; i < spec.segments.length; i++) {
      const expected = spec.segments[i] as string;
      const actual = parts[i + 1] as string;
      if (expected.startsWith(':')) {
        if (actual === '') {
          fits = false;
          break;
        }
        const decoded = decodeSegment(actual);
        if (decoded === null) badEncoding = true;
        else params[expected.slice(1)] = decoded;
      } else if (expected !== actual) {
        fits = false;
        break;
      }
    }
    if (!fits) continue;
    return badEncoding ? { ok: false, route: spec, reason: 'bad-encoding' } : { ok: true, route: spec, params };
  }
  return null;
}

function decodeSegment(segment: string): string | null {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}
