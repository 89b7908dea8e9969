import type { ServerResponse } from 'node:http';
import type { SwitchboardError } from '../protocol/errors.js';

/** What a route handler answers: a status and a body already serialised. */
export interface ApiReply {
  status: number;
  body: string;
  contentType?: string;
  headers?: Readonly<Record<string, string>>;
}

const JSON_TYPE = 'application/json';
// The publish path answers `{}` almost every time: one shared reply, nothing to serialise.
export const EMPTY_OBJECT_REPLY: ApiReply = Object.freeze({ status: 200, body: '{}' });

export function jsonReply(value: unknown, status = 200): ApiReply {
  return { status, body: JSON.stringify(value) };
}

/** `{"error": message}`: the `pusher` SDK hands this body text to the caller. */
export function errorReply(status: number, message: string, headers?: Readonly<Record<string, string>>): ApiReply {
  return headers === undefined ? { status, body: JSON.stringify({ error: message }) } : { status, body: JSON.stringify({ error: message }), headers };
}

/** A client error from the catalogue; codes without an HTTP status are bad requests. */
export function replyForError(error: SwitchboardError): ApiReply {
  return errorReply(error.httpStatus ?? 400, error.message);
}

/** Write a reply unless the client has gone away. */
export function writeReply(res: ServerResponse, reply: ApiReply): void {
  if (res.headersSent || res.destroyed) return;
  res.statusCode = reply.status;
  res.setHeader('content-type', reply.contentType ?? JSON_TYPE);
  res.setHeader('content-length', Buffer.byteLength(reply.body, 'utf8'));
  if (reply.headers !== undefined) {
    for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value);
  }
  res.end(reply.body);
}
