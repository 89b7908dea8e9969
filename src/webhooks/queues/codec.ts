import type { DeadLetter, QueuedBatch } from '../types.js';

/**
 * How the durable drivers store a batch and a dead letter: one JSON document
 * each. Stored bytes come back from a broker that other versions of this code
 * (or a person with redis-cli) may have written to, so decoding validates
 * every field instead of trusting a cast.
 */

export function encodeBatch(batch: QueuedBatch): string {
  return JSON.stringify({ id: batch.id, appId: batch.appId, endpoint: batch.endpoint, body: batch.body, createdAt: batch.createdAt });
}

/** The batch in `text`, or null when it is not one. */
export function decodeBatch(text: string): QueuedBatch | null {
  return asBatch(parse(text));
}

export function encodeDeadLetter(letter: DeadLetter): string {
  return JSON.stringify({ batch: JSON.parse(encodeBatch(letter.batch)) as unknown, reason: letter.reason, failedAt: letter.failedAt });
}

export function decodeDeadLetter(text: string): DeadLetter | null {
  const value = parse(text);
  if (!isRecord(value)) return null;
  const batch = asBatch(value.batch);
  if (batch === null || typeof value.reason !== 'string' || typeof value.failedAt !== 'number') return null;
  return { batch, reason: value.reason, failedAt: value.failedAt };
}

function asBatch(value: unknown): QueuedBatch | null {
  if (!isRecord(value)) return null;
  const { id, appId, endpoint, body, createdAt } = value;
  if (typeof id !== 'string' || typeof appId !== 'string' || typeof endpoint !== 'string' || typeof body !== 'string' || typeof createdAt !== 'number')
    return null;
  return { id, appId, endpoint, body, createdAt };
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
