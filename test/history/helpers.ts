import { request as httpRequest } from 'node:http';
import type { RunningNode } from '../../src/node.js';
import { signApiRequest } from '../../src/protocol/signatures.js';
import { DEV_APP, type RawClient } from '../helpers/node.js';

export type Frame = { event: string; channel?: string; data?: unknown; offset?: number; epoch?: string; recovered?: boolean };

/** A raw client's frames of one channel's published events (not pusher_internal / pusher ones). */
export function eventsOn(client: RawClient, channel: string, from = 0): Frame[] {
  return (client.messages.slice(from) as Frame[]).filter((m) => m.channel === channel && !m.event.startsWith('pusher'));
}

/** Subscribe a raw client (optionally recovering) and wait for subscription_succeeded; returns it. */
export async function subscribeRaw(client: RawClient, channel: string, recover?: unknown, ms = 5000): Promise<Frame> {
  const from = client.messages.length;
  const data: Record<string, unknown> = { channel };
  if (recover !== undefined) data.recover = recover;
  client.send({ event: 'pusher:subscribe', data });
  return (await client.next((m) => m.event === 'pusher_internal:subscription_succeeded' && m.channel === channel, ms, from)) as Frame;
}

export interface HttpAnswer {
  status: number;
  text: string;
}

export function httpSend(port: number, method: string, path: string, body?: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A signed API request, as the Pusher SDKs sign it. */
export function signedApi(
  node: RunningNode,
  method: 'GET' | 'POST',
  path: string,
  params: Record<string, string> = {},
  body = '',
  app: { id: string; key: string; secret: string } = DEV_APP,
): Promise<HttpAnswer> {
  const fullPath = `/apps/${app.id}${path}`;
  const query = signApiRequest(method, fullPath, params, body, app, Date.now() / 1000);
  return httpSend(node.port, method, `${fullPath}?${query}`, body === '' ? undefined : body);
}

/** Publish one event through the signed HTTP API; resolves to the status. */
export async function publish(node: RunningNode, channel: string, data: string, event = 'msg', socketId?: string): Promise<number> {
  const body = JSON.stringify({ name: event, channels: [channel], data, ...(socketId !== undefined ? { socket_id: socketId } : {}) });
  return (await signedApi(node, 'POST', '/events', {}, body)).status;
}

/** Wait until `check` holds (polling). */
export async function until(check: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
