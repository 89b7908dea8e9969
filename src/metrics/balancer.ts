import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The balancer's own registry, served on its `/metrics`. A balancer is a
 * separate process from the nodes: a second registry keeps the node's metrics
 * (./index.ts, always zero in a balancer) off its scrape. Defined next to the
 * node's so that every metric name lives under src/metrics.
 */
export const balancerRegistry = new Registry();
collectDefaultMetrics({ register: balancerRegistry, prefix: 'switchboard_balancer_' });

const registers = [balancerRegistry];

export const balancerMetrics = {
  connections: new Gauge({
    name: 'switchboard_balancer_connections',
    help: 'Open proxied WebSockets per backend',
    labelNames: ['backend'] as const,
    registers,
  }),
  selections: new Counter({
    name: 'switchboard_balancer_selections_total',
    help: 'Backends chosen for a new connection or request',
    labelNames: ['backend', 'kind'] as const,
    registers,
  }),
  healthTransitions: new Counter({
    name: 'switchboard_balancer_health_transitions_total',
    help: 'Backend health state changes',
    labelNames: ['backend', 'to'] as const,
    registers,
  }),
  ejections: new Counter({
    name: 'switchboard_balancer_ejections_total',
    help: 'Passive ejections after connect failures',
    labelNames: ['backend'] as const,
    registers,
  }),
  proxyErrors: new Counter({
    name: 'switchboard_balancer_proxy_errors_total',
    help: 'Proxy failures by kind (connect, reset, timeout, no-backend, limit, bad-request, tls-handshake, not-public)',
    labelNames: ['kind'] as const,
    registers,
  }),
  bytes: new Counter({
    name: 'switchboard_balancer_bytes_total',
    help: 'Bytes through tunnels and HTTP bodies, by direction',
    labelNames: ['direction'] as const,
    registers,
  }),
  rebalanceCloses: new Counter({
    name: 'switchboard_balancer_rebalance_closes_total',
    help: 'Connections nodes were asked to close with 4200 while rebalancing',
    labelNames: ['backend'] as const,
    registers,
  }),
  panic: new Gauge({ name: 'switchboard_balancer_panic', help: '1 while fewer than panicThreshold of the backends are healthy', registers }),
  queued: new Gauge({ name: 'switchboard_balancer_queued', help: 'Requests waiting for room under the connection limits', registers }),
};
