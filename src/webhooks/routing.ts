import type { AppConfig } from '../config/schema.js';
import type { WebhookConfig } from '../config/webhook-schema.js';
import type { WebhookEvent } from './types.js';

/** One configured endpoint, resolved once at start-up. */
export interface Endpoint {
  /** The queue key: app id and URL (with `#n` for a repeated URL), stable across restarts so durable queues find their batches again. */
  readonly key: string;
  readonly appId: string;
  readonly url: string;
  /** The URL without credentials or query (which may carry tokens): what logs show. */
  readonly label: string;
  readonly eventTypes: ReadonlySet<WebhookEvent['name']>;
  readonly startsWith: string | undefined;
  readonly endsWith: string | undefined;
  /** Custom headers with the four reserved ones removed, and a User-Agent unless they name one. */
  readonly headers: Readonly<Record<string, string>>;
}

/** Headers the pipeline sets itself; an endpoint's `headers` cannot replace them (compared lower-case). */
const RESERVED_HEADERS: ReadonlySet<string> = new Set(['content-type', 'x-pusher-key', 'x-pusher-signature', 'x-switchboard-webhook-id']);

const USER_AGENT = 'Switchboard-Webhooks/1';

/** Per app: its endpoints and the event names any of them wants, so `wants()` is one map and one set lookup. */
export interface AppRoutes {
  readonly endpoints: readonly Endpoint[];
  readonly wanted: ReadonlySet<WebhookEvent['name']>;
}

/** Build the routing table of every app that has webhooks; apps without any are absent. */
export function buildRoutes(apps: readonly AppConfig[]): ReadonlyMap<string, AppRoutes> {
  const routes = new Map<string, AppRoutes>();
  for (const app of apps) {
    if (app.webhooks.length === 0) continue;
    const seen = new Map<string, number>();
    const endpoints = app.webhooks.map((w) => {
      const n = seen.get(w.url) ?? 0;
      seen.set(w.url, n + 1);
      return toEndpoint(app.id, w, n === 0 ? `${app.id} ${w.url}` : `${app.id} ${w.url}#${n}`);
    });
    const wanted = new Set<WebhookEvent['name']>();
    for (const e of endpoints) for (const t of e.eventTypes) wanted.add(t);
    routes.set(app.id, { endpoints, wanted });
  }
  return routes;
}

/** Whether an endpoint takes this event: its type is wanted and the channel passes the filter (both parts when both are set). */
export function accepts(endpoint: Endpoint, event: WebhookEvent): boolean {
  if (!endpoint.eventTypes.has(event.name)) return false;
  if (endpoint.startsWith !== undefined && !event.channel.startsWith(endpoint.startsWith)) return false;
  if (endpoint.endsWith !== undefined && !event.channel.endsWith(endpoint.endsWith)) return false;
  return true;
}

function toEndpoint(appId: string, w: WebhookConfig, key: string): Endpoint {
  const headers: Record<string, string> = {};
  let userAgent = false;
  for (const [name, value] of Object.entries(w.headers)) {
    const lower = name.toLowerCase();
    if (lower === 'user-agent') userAgent = true;
    if (!RESERVED_HEADERS.has(lower)) headers[name] = value;
  }
  // So receivers can tell webhook traffic apart; an endpoint may name its own.
  if (!userAgent) headers['user-agent'] = USER_AGENT;
  return {
    key,
    appId,
    url: w.url,
    label: redactUrl(w.url),
    eventTypes: new Set(w.eventTypes),
    startsWith: w.filter?.channelNameStartsWith,
    endsWith: w.filter?.channelNameEndsWith,
    headers,
  };
}

/** Origin and path only: user:password@ and ?token=... stay out of logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '<invalid url>';
  }
}
