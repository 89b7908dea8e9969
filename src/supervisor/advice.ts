import { request } from 'node:http';
import type { Advice } from './decide.js';

/** What a node's `GET /cluster/scaling` answered, checked field by field (it is input from the network). */
export function readAdvice(body: unknown): Advice | null {
  if (typeof body !== 'object' || body === null) return null;
  const o = body as Record<string, unknown>;
  const { desired, current, reason } = o;
  if (typeof desired !== 'number' || !Number.isInteger(desired) || desired < 0) return null;
  if (typeof current !== 'number' || !Number.isInteger(current) || current < 0) return null;
  return { desired, current, reason: typeof reason === 'string' ? reason : '' };
}

/**
 * Ask one node for the cluster's scaling advice. Any node answers with the
 * leader's (src/monitor/load-control.ts), so the supervisor follows the one
 * owner of the decision rather than computing its own. Null on no answer,
 * an error status or advice not computed yet.
 */
export function fetchAdvice(host: string, port: number, timeoutMs = 2000): Promise<Advice | null> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/cluster/scaling', method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) return resolve(null);
        try {
          resolve(readAdvice(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
        } catch {
          resolve(null);
        }
      });
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}
