import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** One getaddrinfo for a name, every address it has (node:dns's, unless a test gives its own). */
export type ResolveHost = (host: string) => Promise<ResolvedAddress[]>;

const systemResolve: ResolveHost = (host) =>
  new Promise((resolve, reject) => dnsLookup(host, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

/**
 * What a refresh found: nothing new, a first or different address, or a
 * failure (the last good address stays; `repeated` when the one before failed too).
 */
export type RefreshResult = { kind: 'same' } | { kind: 'changed'; from: string | null; to: string } | { kind: 'failed'; error: Error; repeated: boolean };

/**
 * A backend's host, resolved ahead of the connects that need it. A backend
 * named by a host name (a Kubernetes service, a compose service) would
 * otherwise cost a getaddrinfo per WebSocket: a reconnect storm would also be
 * a storm of lookups queued on libuv's four threadpool threads, and a slow or
 * failing resolver would fail connects to a healthy node. Here the health
 * checker refreshes the answer beside each check (so an address that moves,
 * a node's pod rescheduled, is followed within a check interval), a failed
 * refresh keeps the last good answer, and `lookup` hands the tunnels and the
 * undici pools that answer without a lookup of their own. An IP address
 * needs none of it (node:net does not call `lookup` for one).
 */
export class HostResolver {
  /** In the resolver's order; node:net (tunnels, and undici's sockets) tries them in turn (autoSelectFamily). */
  private current: ResolvedAddress[] | null;
  private pending: Promise<RefreshResult> | null = null;
  private failing = false;
  /** For node:net's and undici's `lookup` option. */
  readonly lookup: (hostname: string, options: LookupOptions, callback: LookupCallback) => void;

  constructor(
    readonly host: string,
    private readonly resolve: ResolveHost = systemResolve,
  ) {
    const family = isIP(host);
    this.current = family === 0 ? null : [{ address: host, family }];
    this.lookup = (hostname, options, callback) => {
      const known = this.current;
      // Not resolved yet (the first check is still under way): one lookup of the usual kind.
      const first = known?.[0];
      if (known === null || first === undefined || hostname !== host) {
        dnsLookup(hostname, options, callback as (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family: number) => void);
        return;
      }
      if (options.all === true) callback(null, known);
      else callback(null, first.address, first.family);
    };
  }

  /** Whether there is anything to resolve. */
  get isName(): boolean {
    return isIP(this.host) === 0;
  }

  /** The address connects use now (null until a name's first answer). */
  get address(): string | null {
    return this.current?.[0]?.address ?? null;
  }

  /** Resolve the name again; calls while one is under way share it. */
  refresh(): Promise<RefreshResult> {
    if (!this.isName) return Promise.resolve({ kind: 'same' });
    this.pending ??= this.resolve(this.host)
      .then((found): RefreshResult => {
        const before = this.current?.map((a) => a.address).join(',') ?? null;
        const now = found.map((a) => a.address).join(',');
        if (found.length === 0) throw new Error(`${this.host} resolved to no address`);
        this.current = found;
        this.failing = false;
        return before === now ? { kind: 'same' } : { kind: 'changed', from: before, to: now };
      })
      .catch((err: unknown): RefreshResult => {
        const repeated = this.failing;
        this.failing = true;
        return { kind: 'failed', error: err instanceof Error ? err : new Error(String(err)), repeated };
      })
      .finally(() => {
        this.pending = null;
      });
    return this.pending;
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
