import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../../src/node.js';
import { startTestNode } from '../helpers/node.js';
import { backendsUp, closeAll, openMany, startBalancer, until } from './helpers.js';

/**
 * 3 real nodes, 3,000 real WebSockets through the balancer, per algorithm:
 * stddev/mean of the per-node counts (as the nodes count them) under 5%.
 * About 12,000 fds in this process at the peak (client, two balancer sides, node).
 */
const CONNECTIONS = 3000;
let nodes: RunningNode[];

beforeAll(async () => {
  nodes = await Promise.all([0, 1, 2].map(() => startTestNode()));
});

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop({ drainSeconds: 0 })));
});

function cv(values: number[]): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length) / mean;
}

describe('balancer: spread over 3 backends', () => {
  for (const algorithm of ['least-connections', 'round-robin', 'p2c'] as const) {
    it(`${algorithm}: stddev/mean of per-backend counts under 5% with ${CONNECTIONS} connections`, { timeout: 90_000 }, async () => {
      const balancer = await startBalancer({ backend: nodes.map((n) => `127.0.0.1:${n.port}`), algorithm });
      try {
        await backendsUp(balancer);
        const sockets = await openMany(balancer.port, CONNECTIONS, 100);
        try {
          const counts = nodes.map((n) => n.core.connections.size);
          expect(counts.reduce((a, b) => a + b, 0)).toBe(CONNECTIONS);
          expect(cv(counts), `counts ${counts.join(',')}`).toBeLessThan(0.05);
        } finally {
          await closeAll(sockets);
        }
        await until(() => nodes.every((n) => n.core.connections.size === 0), 10_000, 'all closed');
      } finally {
        await balancer.stop();
      }
    });
  }
});
