import { randomBytes } from 'node:crypto';

/** A fresh epoch: 8 url-safe characters, random, so a lost and restarted stream never reuses one. */
export function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}
