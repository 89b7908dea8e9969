import type { IncomingMessage } from 'node:http';
import { countLimitTrip, type LimitName } from '../metrics/index.js';
import { ErrorCode, SwitchboardError } from '../protocol/errors.js';

/** The client closed or broke the connection before its body arrived: nobody is left to answer. */
export class RequestAborted extends Error {
  override readonly name = 'RequestAborted';
}

const EMPTY = Buffer.alloc(0);

/**
 * Read a request body of at most `maxBytes`. A declared Content-Length over the
 * cap is refused before a byte is read; a body that grows past it while streaming
 * (chunked, or a lying length) stops being kept at once, so memory per request
 * never exceeds the cap. Rejects with a 413 SwitchboardError or RequestAborted.
 * `limit` names the option `maxBytes` comes from, counted when it trips; none for a fixed internal cap.
 */
export function readBody(req: IncomingMessage, maxBytes: number, limit?: LimitName): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    return Promise.reject(tooLarge(maxBytes, limit));
  }
  if (req.readableEnded) return Promise.resolve(EMPTY);

  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > maxBytes) {
        cleanup();
        // Whatever else arrives is discarded by Node once the reply is sent; nothing more is kept.
        chunks.length = 0;
        reject(tooLarge(maxBytes, limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : chunks.length === 0 ? EMPTY : Buffer.concat(chunks, received));
    };
    const onError = (): void => {
      cleanup();
      reject(new RequestAborted('request stream failed'));
    };
    const onClose = (): void => {
      if (req.readableEnded) return;
      cleanup();
      reject(new RequestAborted('client closed the request before its body ended'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function tooLarge(maxBytes: number, limit: LimitName | undefined): SwitchboardError {
  if (limit !== undefined) countLimitTrip(limit);
  return new SwitchboardError(ErrorCode.ApiPayloadTooLarge, `the limit is ${maxBytes} bytes`);
}

/** A request body that must be a JSON object; an empty body is `{}`. Anything else is a 400 naming what was wrong. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new SwitchboardError(ErrorCode.ApiMalformedRequest, 'the body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new SwitchboardError(ErrorCode.ApiMalformedRequest, 'the body must be a JSON object');
  return parsed as Record<string, unknown>;
}
