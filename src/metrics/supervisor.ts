import { Counter, Gauge } from 'prom-client';
import { balancerRegistry } from './balancer.js';

/**
 * `switchboard cluster`'s metrics. The supervisor and its balancer are one
 * process, so they share the balancer's registry and its `/metrics` on the
 * public port: one scrape target for the host's front.
 */
const registers = [balancerRegistry];

export const supervisorMetrics = {
  events: new Counter({
    name: 'switchboard_supervisor_events_total',
    help: 'Scaling steps and restarts by event (scale-up, scale-down, crash, restart) and cause (advice, min-nodes, max-nodes, crash, start-failed)',
    labelNames: ['event', 'cause'] as const,
    registers,
  }),
  nodes: new Gauge({
    name: 'switchboard_supervisor_nodes',
    help: 'Node processes by state (starting, ready, draining, restarting)',
    labelNames: ['state'] as const,
    registers,
  }),
  desiredNodes: new Gauge({
    name: 'switchboard_supervisor_desired_nodes',
    help: "Nodes the leader's last advice asked for (-1 before the first advice)",
    registers,
  }),
};
