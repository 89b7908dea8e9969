const MASK = '****';

// Key names whose values must never be printed: app secrets and anything TLS (paths to
// key material are masked too, since a check's output ends up in tickets and chat).
function isSecretKey(key: string): boolean {
  return key === 'secret' || key === 'previousSecret' || key === 'appSecret' || /^tls/i.test(key);
}

function mask(value: unknown, key: string | undefined): unknown {
  if (key !== undefined && isSecretKey(key) && value !== undefined) return MASK;
  if (Array.isArray(value)) return value.map((item) => mask(item, undefined));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mask(v, k)]));
  }
  return value;
}

/** A copy of the config safe to print: every secret and TLS value replaced by `****`. */
export function maskSecrets<T extends object>(config: T): T {
  return mask(config, undefined) as T;
}
