import type { AppConfig } from '../config/schema.js';
import { verifyApiSignature, type ApiSignatureResult } from '../protocol/signatures.js';

/**
 * Check a request's Pusher signature. SDKs sign the path as they wrote it, but an
 * HTTP client may percent-encode characters (a space in a user id) on the way:
 * when the raw path fails and has escapes, the decoded path is tried too.
 */
export function authenticate(method: string, rawPath: string, query: URLSearchParams, body: Buffer, app: AppConfig, nowSeconds: number): ApiSignatureResult {
  const result = verifyApiSignature({ method, path: rawPath, query, body }, app, nowSeconds);
  if (result.ok || !rawPath.includes('%')) return result;
  let decoded: string;
  try {
    decoded = decodeURI(rawPath);
  } catch {
    return result;
  }
  const retry = verifyApiSignature({ method, path: decoded, query, body }, app, nowSeconds);
  return retry.ok ? retry : result;
}
