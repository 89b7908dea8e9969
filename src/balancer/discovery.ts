import { randomUUID } from 'node:crypto';
import { createTransport } from '../adapters/create.js';
import type { ClusterTransport } from '../adapters/types.js';
import { decodeMessage } from '../cluster/messages.js';
import { NodeRegistry } from '../cluster/registry.js';
import { MEMBERSHIP_SUBJECT } from '../cluster/subjects.js';
import type { Logger } from '../util/logger.js';

/** What discovery tells the balancer. */
export interface DiscoveryListener {
  added(host: string, port: number): void;
  removed(address: string): void;
}

/** Split `host:port` (IPv6 hosts in brackets or bare). */
function splitAddress(address: string): { host: string; port: number } | null {
  const colon = address.lastIndexOf(':');
  if (colon <= 0) return null;
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(colon + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return null;
  return { host, port };
}

/**
 * Follows the cluster's node registry through the nodes' own heartbeats on
 * Redis: a node appears with its first heartbeat and leaves with its
 * goodbye (sent after its drain), the leader's node-down verdict, or
 * `nodeTimeout` of silence. It only listens; the nodes never see it.
 */
export class RedisDiscovery {
  private readonly transport: ClusterTransport;
  private readonly registry: NodeRegistry;
  private readonly addresses = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private warnedWildcard = new Set<string>();

  constructor(
    settings: { redisUrl: string; keyPrefix: string; nodeTimeoutMs: number },
    private readonly listener: DiscoveryListener,
    private readonly logger: Logger,
  ) {
    const transport = createTransport({
      adapter: 'redis',
      redisUrl: settings.redisUrl,
      keyPrefix: settings.keyPrefix,
      nodeId: `balancer-${randomUUID()}`,
      clusterCoalesceMs: 0,
      clusterCoalesceMinRate: 0,
    });
    if (transport === null) throw new Error('no redis transport');
    this.transport = transport;
    this.registry = new NodeRegistry(settings.nodeTimeoutMs);
    this.transport.setHandler((_subject, payload) => this.receive(payload));
  }

  async start(): Promise<void> {
    await this.transport.connect();
    await this.transport.subscribe(MEMBERSHIP_SUBJECT);
    this.timer = setInterval(() => {
      for (const dead of this.registry.expire()) this.forget(dead.id, 'timeout');
    }, 500);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    await this.transport.close();
  }

  private receive(payload: string): void {
    const m = decodeMessage(payload);
    if (m === null) return;
    switch (m.t) {
      case 'heartbeat': {
        // A run forgotten after a silence (a paused or starved node) that beats again is alive:
        // the registry takes it back as new, and so does the balancer.
        const seen = this.registry.observe(m);
        if (seen.kind === 'known' && this.addresses.get(m.from) === m.address) return;
        const previous = this.addresses.get(m.from);
        if (previous !== undefined && previous !== m.address) this.listener.removed(previous);
        const where = this.reachable(m.address);
        if (where === null) return;
        this.addresses.set(m.from, m.address);
        this.logger.info({ node: m.from, address: `${where.host}:${where.port}` }, 'discovered a node');
        this.listener.added(where.host, where.port);
        return;
      }
      case 'bye':
        this.registry.remove(m.from, m.inc);
        this.forget(m.from, 'goodbye');
        return;
      case 'node-down':
        this.registry.remove(m.node, m.nodeInc);
        this.forget(m.node, 'node-down');
        return;
      default:
        return;
    }
  }

  /** A node bound to 0.0.0.0 announces that; the balancer can only guess loopback for it. */
  private reachable(address: string): { host: string; port: number } | null {
    const parts = splitAddress(address);
    if (parts === null) return null;
    if (parts.host === '0.0.0.0' || parts.host === '::') {
      if (!this.warnedWildcard.has(address)) {
        this.warnedWildcard.add(address);
        this.logger.warn({ address }, 'node announces a wildcard address; using loopback (start nodes with a routable --host)');
      }
      return { host: '127.0.0.1', port: parts.port };
    }
    return parts;
  }

  private forget(id: string, reason: string): void {
    const address = this.addresses.get(id);
    if (address === undefined) return;
    this.addresses.delete(id);
    const where = this.reachable(address);
    this.logger.info({ node: id, reason }, 'node left');
    if (where !== null) this.listener.removed(`${where.host}:${where.port}`);
  }
}
