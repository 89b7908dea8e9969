import type { Target } from './algorithms.js';
import { joinHostPort } from './config.js';
import { BackendHealth, type HealthSettings } from './health.js';
import { createBackendHttp, type BackendHttp, type HttpPoolSettings } from './http-pool.js';
import { HostResolver } from './resolver.js';
import { balancerMetrics } from '../metrics/balancer.js';

/** What a node says about itself in its `/ready` body (see src/balancer/node-load.ts). */
export interface ReportedLoad {
  connections: number;
  /** Event-loop utilization over the node's last sampling interval, 0..1. */
  elu: number;
  rssBytes: number;
  heapUsedBytes: number;
  state: 'ready' | 'draining';
}

/** The smoothing of the latency EWMA: each sample moves it a fifth of the way. */
const EWMA_ALPHA = 0.2;

/** One node behind the balancer: its health, its load, its connections, its HTTP connections. */
export class Backend implements Target {
  readonly health: BackendHealth;
  /** Open proxied WebSockets. */
  connections = 0;
  /** HTTP API requests in flight. */
  requests = 0;
  load: ReportedLoad | null = null;
  latencyMs = 0;
  /** Where the balancer connects; for `/endpoints`, the URL clients can use directly. */
  readonly publicUrl: string;
  /** Keep-alive sockets for HTTP API requests, and one for the balancer's own. */
  readonly http: BackendHttp;
  /** The host's address, resolved ahead of connects (every connect to this backend uses `resolver.lookup`). */
  readonly resolver: HostResolver;
  /** Set when discovery forgot the backend: no new traffic, existing tunnels stay. */
  removed = false;
  private factor = 1;

  constructor(
    readonly address: string,
    readonly host: string,
    readonly port: number,
    readonly baseWeight: number,
    settings: HealthSettings,
    rampOnFirstUp: boolean,
    http: HttpPoolSettings,
  ) {
    this.health = new BackendHealth(settings, rampOnFirstUp);
    this.health.onTransition = (t) => balancerMetrics.healthTransitions.inc({ backend: address, to: t.to });
    this.publicUrl = `ws://${joinHostPort(host, port)}`;
    this.resolver = new HostResolver(host);
    this.http = createBackendHttp(`http://${joinHostPort(host, port)}`, http, this.resolver.lookup, (ms) => {
      this.observeLatency(ms);
      this.health.connectSucceeded();
    });
  }

  get id(): string {
    return this.address;
  }

  /** Weight after slow start; refreshed by `refresh(now)` before each pick. */
  get weight(): number {
    return this.baseWeight * this.factor;
  }

  get active(): number {
    return this.connections + this.requests;
  }

  get elu(): number {
    return this.load?.elu ?? 0;
  }

  refresh(now: number): void {
    this.factor = this.health.weightFactor(now);
  }

  observeLatency(ms: number): void {
    this.latencyMs = this.latencyMs === 0 ? ms : this.latencyMs + EWMA_ALPHA * (ms - this.latencyMs);
  }

  opened(): void {
    this.connections++;
    balancerMetrics.connections.set({ backend: this.address }, this.connections);
  }

  closed(): void {
    this.connections--;
    balancerMetrics.connections.set({ backend: this.address }, this.connections);
  }

  close(): void {
    void this.http.api.destroy();
    void this.http.control.destroy();
  }
}
