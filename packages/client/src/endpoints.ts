import { backoffCeiling } from './backoff.js';
import { host, type FetchLike } from './host.js';
import { normaliseEndpoint } from './protocol.js';

/** What the client knows about one endpoint. */
export interface EndpointStats {
  readonly url: string;
  /** Smoothed round-trip time in ms (null until the first sample). */
  srtt: number | null;
  /** Consecutive failures (connect errors, timeouts, abnormal closes); reset by a success. */
  failures: number;
  /** Until when (ms, Date.now clock) the endpoint sits out after a failure. */
  penaltyUntil: number;
  /** The balancer's event-loop utilisation for the node, 0..1, when discovery gave one. */
  elu: number | null;
}

// TCP's smoothing (RFC 6298): new = 7/8 old + 1/8 sample.
const RTT_ALPHA = 1 / 8;

/**
 * The endpoints and their health. Choice is "best of two random healthy endpoints": always taking
 * the fastest would move every client onto one node the moment it looks quickest; two random
 * candidates keep the load spread while still steering away from a slow or failing node.
 */
export class EndpointPool {
  private endpoints: EndpointStats[] = [];

  constructor(
    urls: string[],
    private readonly random: () => number = Math.random,
    private readonly clock: () => number = Date.now,
  ) {
    this.replace(urls);
  }

  get size(): number {
    return this.endpoints.length;
  }

  list(): readonly EndpointStats[] {
    return this.endpoints;
  }

  get(url: string): EndpointStats | undefined {
    return this.endpoints.find((e) => e.url === url);
  }

  /** Take a new list (from discovery), keeping what is known about endpoints that stay. */
  replace(urls: string[], elu: Map<string, number | null> = new Map()): void {
    const next: EndpointStats[] = [];
    for (const url of urls) {
      if (next.some((e) => e.url === url)) continue;
      const known = this.get(url);
      const stats = known ?? { url, srtt: null, failures: 0, penaltyUntil: 0, elu: null };
      if (elu.has(url)) stats.elu = elu.get(url) ?? null;
      next.push(stats);
    }
    this.endpoints = next;
  }

  /** One RTT sample (ms) for `url`. */
  sample(url: string, rttMs: number): void {
    const stats = this.get(url);
    if (stats === undefined || !Number.isFinite(rttMs) || rttMs < 0) return;
    stats.srtt = stats.srtt === null ? rttMs : stats.srtt + RTT_ALPHA * (rttMs - stats.srtt);
  }

  /** A failure: the endpoint sits out for a growing time (0.5 s, 1 s, ... 20 s). */
  failed(url: string): void {
    const stats = this.get(url);
    if (stats === undefined) return;
    stats.penaltyUntil = this.clock() + backoffCeiling(stats.failures);
    stats.failures++;
  }

  succeeded(url: string): void {
    const stats = this.get(url);
    if (stats === undefined) return;
    stats.failures = 0;
    stats.penaltyUntil = 0;
  }

  healthy(): EndpointStats[] {
    const t = this.clock();
    return this.endpoints.filter((e) => e.penaltyUntil <= t);
  }

  /**
   * The order in which to try endpoints: each place is the better of two random candidates among the
   * healthy ones not yet placed; endpoints sitting out follow, soonest back first (so that when all
   * have failed the client still tries them instead of waiting).
   */
  order(): string[] {
    const t = this.clock();
    const healthy = this.endpoints.filter((e) => e.penaltyUntil <= t);
    const resting = this.endpoints.filter((e) => e.penaltyUntil > t).sort((a, b) => a.penaltyUntil - b.penaltyUntil);
    const placed: string[] = [];
    const left = healthy.slice();
    while (left.length > 0) {
      const chosen = this.bestOfTwo(left);
      placed.push(chosen.url);
      left.splice(left.indexOf(chosen), 1);
    }
    for (const e of resting) placed.push(e.url);
    return placed;
  }

  private bestOfTwo(candidates: EndpointStats[]): EndpointStats {
    if (candidates.length === 1) return candidates[0]!;
    const i = Math.floor(this.random() * candidates.length);
    let j = Math.floor(this.random() * (candidates.length - 1));
    if (j >= i) j++;
    const a = candidates[i]!;
    const b = candidates[j]!;
    return this.score(b) < this.score(a) ? b : a;
  }

  /** Lower is better: the smoothed RTT (unknown ones count as the average of the known), raised by the node's load. */
  private score(e: EndpointStats): number {
    const known = this.endpoints.filter((x) => x.srtt !== null);
    const average = known.length === 0 ? 0 : known.reduce((sum, x) => sum + (x.srtt as number), 0) / known.length;
    const rtt = e.srtt ?? average;
    // A busy node answers later under load; a little weight on its utilisation breaks RTT ties.
    return (rtt + 1) * (1 + (e.elu ?? 0));
  }
}

/** One entry of the balancer's `GET /endpoints`. */
export interface DiscoveredEndpoint {
  url: string;
  elu: number | null;
}

/**
 * Read the balancer's `GET /endpoints` answer (`{"endpoints":[{"url":"ws://...","elu":0.1,...}]}`).
 * Malformed answers and entries are dropped rather than trusted; an unusable answer is an error.
 */
export function parseEndpoints(body: string, forceTLS?: boolean): DiscoveredEndpoint[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new Error('endpoints answer is not JSON');
  }
  const list = (parsed as { endpoints?: unknown } | null)?.endpoints;
  if (!Array.isArray(list)) throw new Error('endpoints answer has no endpoints array');
  const out: DiscoveredEndpoint[] = [];
  for (const entry of list.slice(0, 1000)) {
    const url = normaliseEndpoint((entry as { url?: unknown } | null)?.url, forceTLS);
    if (url === null) continue;
    const elu = (entry as { elu?: unknown }).elu;
    out.push({ url, elu: typeof elu === 'number' && elu >= 0 && elu <= 1 ? elu : null });
  }
  return out;
}

/** Fetch the balancer's endpoint list, bounded in time. */
export async function fetchEndpoints(
  url: string,
  timeoutMs: number,
  forceTLS?: boolean,
  fetchImpl: FetchLike | undefined = host.fetch,
): Promise<DiscoveredEndpoint[]> {
  if (fetchImpl === undefined) throw new Error('no fetch() to read the endpoint list');
  let timer: unknown = null;
  const timeout = new Promise<never>((_, reject) => {
    timer = host.setTimeout(() => reject(new Error(`endpoint list not answered within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const response = await Promise.race([fetchImpl(url, { method: 'GET', cache: 'no-store' }), timeout]);
    if (!response.ok) throw new Error(`endpoint list answered HTTP ${response.status}`);
    return parseEndpoints(await Promise.race([response.text(), timeout]), forceTLS);
  } finally {
    host.clearTimeout(timer);
  }
}
