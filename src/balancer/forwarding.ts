import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** Strip the `::ffff:` of an IPv4 client seen on a dual-stack socket. */
export function plainAddress(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/**
 * The client's headers without its X-Forwarded-For/-Proto, and the
 * X-Forwarded-For to send instead: what the client sent, then the client's
 * address (the chain a proxy in front of us started goes on). -Proto is ours to
 * say: the balancer speaks plain HTTP.
 */
export function forwardedFor(req: IncomingMessage, client: Socket): { forwardedForValue: string; headers: Array<[string, string]> } {
  const headers: Array<[string, string]> = [];
  let prior: string | undefined;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (lower === 'x-forwarded-for') prior = prior === undefined ? value : `${prior}, ${value}`;
    else if (lower !== 'x-forwarded-proto') headers.push([name, value]);
  }
  const own = plainAddress(client.remoteAddress);
  return { forwardedForValue: prior === undefined ? own : `${prior}, ${own}`, headers };
}

/**
 * The upgrade request as the backend gets it, in one string: the client's
 * request line and headers without its X-Forwarded-For/-Proto, then the
 * X-Forwarded-For chain (as `forwardedFor`) and -Proto. One pass over
 * rawHeaders, no intermediate list: this runs once per WebSocket connect.
 */
export function upgradeRequestHead(req: IncomingMessage, client: Socket): string {
  let text = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
  let prior: string | undefined;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (lower === 'x-forwarded-for') prior = prior === undefined ? value : `${prior}, ${value}`;
    else if (lower !== 'x-forwarded-proto') text += `${name}: ${value}\r\n`;
  }
  const own = plainAddress(client.remoteAddress);
  return `${text}X-Forwarded-For: ${prior === undefined ? own : `${prior}, ${own}`}\r\nX-Forwarded-Proto: http\r\n\r\n`;
}

/** A PROXY protocol v1 header line for a client socket (source: the client, destination: our listening side). */
export function proxyProtocolLine(client: Socket): string {
  const src = plainAddress(client.remoteAddress);
  const dst = plainAddress(client.localAddress);
  const family = src.includes(':') || dst.includes(':') ? 'TCP6' : 'TCP4';
  if (client.remotePort === undefined || client.localPort === undefined) return 'PROXY UNKNOWN\r\n';
  return `PROXY ${family} ${src} ${dst} ${client.remotePort} ${client.localPort}\r\n`;
}
