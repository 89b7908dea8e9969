import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** Strip the `::ffff:` of an IPv4 client seen on a dual-stack socket. */
export function plainAddress(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** The X-Forwarded-Proto to send: what the client spoke to us (TLS when the balancer terminates it). */
export function forwardedProto(client: Socket): 'https' | 'http' {
  return (client as TLSSocket).encrypted === true ? 'https' : 'http';
}

/**
 * One rule for both request paths (HTTP API and upgrade): the client's
 * X-Forwarded-Proto is dropped (it is ours to say, see forwardedProto), its
 * X-Forwarded-For values are collected (a chain a proxy in front of us
 * started goes on), every other header passes. A header to drop or collect
 * makes this return false.
 */
function passedHeader(lower: string, value: string, chain: { prior: string | undefined }): boolean {
  if (lower === 'x-forwarded-for') {
    chain.prior = chain.prior === undefined ? value : `${chain.prior}, ${value}`;
    return false;
  }
  return lower !== 'x-forwarded-proto';
}

/** The X-Forwarded-For to send: what the client sent, then the client's address. */
function forwardedChain(prior: string | undefined, client: Socket): string {
  const own = plainAddress(client.remoteAddress);
  return prior === undefined ? own : `${prior}, ${own}`;
}

/** The client's headers without its X-Forwarded-For/-Proto, and the X-Forwarded-For to send instead (see passedHeader). */
export function forwardedFor(req: IncomingMessage, client: Socket): { forwardedForValue: string; headers: Array<[string, string]> } {
  const headers: Array<[string, string]> = [];
  const chain = { prior: undefined as string | undefined };
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (passedHeader(name.toLowerCase(), value, chain)) headers.push([name, value]);
  }
  return { forwardedForValue: forwardedChain(chain.prior, client), headers };
}

/**
 * The upgrade request as the backend gets it, in one string: the client's
 * request line and headers without its X-Forwarded-For/-Proto, then the
 * X-Forwarded-For chain (as `forwardedFor`) and -Proto (`forwardedProto`). One pass over
 * rawHeaders, no intermediate list: this runs once per WebSocket connect.
 */
export function upgradeRequestHead(req: IncomingMessage, client: Socket): string {
  let text = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
  const chain = { prior: undefined as string | undefined };
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (passedHeader(name.toLowerCase(), value, chain)) text += `${name}: ${value}\r\n`;
  }
  return `${text}X-Forwarded-For: ${forwardedChain(chain.prior, client)}\r\nX-Forwarded-Proto: ${forwardedProto(client)}\r\n\r\n`;
}

/** A PROXY protocol v1 header line for a client socket (source: the client, destination: our listening side). */
export function proxyProtocolLine(client: Socket): string {
  const src = plainAddress(client.remoteAddress);
  const dst = plainAddress(client.localAddress);
  const family = src.includes(':') || dst.includes(':') ? 'TCP6' : 'TCP4';
  if (client.remotePort === undefined || client.localPort === undefined) return 'PROXY UNKNOWN\r\n';
  return `PROXY ${family} ${src} ${dst} ${client.remotePort} ${client.localPort}\r\n`;
}
