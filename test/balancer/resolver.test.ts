import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createBackendHttp } from '../../src/balancer/http-pool.js';
import { HostResolver, type ResolvedAddress } from '../../src/balancer/resolver.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A resolver the test controls: answers what `next` says and counts the calls. */
function fakeDns(first: ResolvedAddress[] | Error) {
  const state = { next: first, calls: 0 };
  const resolve = async (): Promise<ResolvedAddress[]> => {
    state.calls++;
    if (state.next instanceof Error) throw state.next;
    return state.next;
  };
  return { state, resolve };
}

function lookupOnce(r: HostResolver, all: boolean): Promise<unknown> {
  return new Promise((resolve, reject) => r.lookup(r.host, { all }, (err, address) => (err ? reject(err) : resolve(address))));
}

const LOCAL = [{ address: '127.0.0.1', family: 4 }];
// `.invalid` never resolves (RFC 6761): anything that connects to it got the address from our resolver.
const NAME = 'node-a.switchboard.invalid';

describe('balancer: backend host resolution', () => {
  it('an IP address is its own answer and needs no lookup', async () => {
    const dns = fakeDns(new Error('must not be called'));
    const r = new HostResolver('127.0.0.1', dns.resolve);
    expect(r.isName).toBe(false);
    expect(r.address).toBe('127.0.0.1');
    expect(await r.refresh()).toEqual({ kind: 'same' });
    expect(dns.state.calls).toBe(0);
  });

  it('a name is resolved once per refresh, not once per connect, and follows a changed address', async () => {
    const dns = fakeDns(LOCAL);
    const r = new HostResolver(NAME, dns.resolve);
    expect(r.address).toBeNull();
    expect(await r.refresh()).toEqual({ kind: 'changed', from: null, to: '127.0.0.1' });
    for (let i = 0; i < 100; i++) expect(await lookupOnce(r, false)).toBe('127.0.0.1');
    expect(await lookupOnce(r, true)).toEqual(LOCAL);
    expect(dns.state.calls).toBe(1);

    dns.state.next = [
      { address: '::1', family: 6 },
      { address: '127.0.0.2', family: 4 },
    ];
    expect(await r.refresh()).toEqual({ kind: 'changed', from: '127.0.0.1', to: '::1,127.0.0.2' });
    expect(await lookupOnce(r, false)).toBe('::1');
    expect(await lookupOnce(r, true)).toEqual(dns.state.next);
    expect(await r.refresh()).toEqual({ kind: 'same' });
  });

  it('a failed refresh keeps the last good address and says whether it failed before', async () => {
    const dns = fakeDns(LOCAL);
    const r = new HostResolver(NAME, dns.resolve);
    await r.refresh();
    dns.state.next = Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' });
    expect(await r.refresh()).toMatchObject({ kind: 'failed', repeated: false });
    expect(await r.refresh()).toMatchObject({ kind: 'failed', repeated: true });
    expect(await lookupOnce(r, false)).toBe('127.0.0.1');
    dns.state.next = LOCAL;
    expect(await r.refresh()).toEqual({ kind: 'same' });
    dns.state.next = new Error('down again');
    expect(await r.refresh()).toMatchObject({ kind: 'failed', repeated: false });
  });

  it('refreshes asked while one is under way share it', async () => {
    const dns = fakeDns(LOCAL);
    const r = new HostResolver(NAME, dns.resolve);
    await Promise.all([r.refresh(), r.refresh(), r.refresh()]);
    expect(dns.state.calls).toBe(1);
  });

  it('tunnel sockets and the undici pools connect to the resolved address of a name the system cannot resolve', async () => {
    const r = new HostResolver(NAME, fakeDns(LOCAL).resolve);
    await r.refresh();

    const tcp = createServer((s) => s.end('hello'));
    await new Promise<void>((ok) => tcp.listen(0, '127.0.0.1', ok));
    cleanups.push(() => new Promise((ok) => tcp.close(ok)));
    const socket = connect({ host: NAME, port: (tcp.address() as AddressInfo).port, lookup: r.lookup });
    cleanups.push(() => socket.destroy());
    const [data] = (await once(socket, 'data')) as [Buffer];
    expect(data.toString()).toBe('hello');

    let host: string | undefined;
    const web = createHttpServer((req: IncomingMessage, res) => {
      host = req.headers.host;
      res.end('ok');
    });
    await new Promise<void>((ok) => web.listen(0, '127.0.0.1', ok));
    cleanups.push(() => new Promise((ok) => web.close(ok)));
    const port = (web.address() as AddressInfo).port;
    const http = createBackendHttp(`http://${NAME}:${port}`, { connections: 2, connectTimeoutMs: 2000, requestTimeoutMs: 2000 }, r.lookup, () => undefined);
    cleanups.push(() => Promise.all([http.api.destroy(), http.control.destroy()]));
    for (const client of [http.api, http.control]) {
      const res = await client.request({ path: '/', method: 'GET' });
      expect(await res.body.text()).toBe('ok');
    }
    // The node still sees the name it was configured by.
    expect(host).toBe(`${NAME}:${port}`);
  });
});
