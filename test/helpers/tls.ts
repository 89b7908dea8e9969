import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** A self-signed certificate for common name `name` and its key (EC P-256: quick to make), written to `dir`. */
export function selfSignedPair(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', key, '-out', cert],
    { stdio: 'ignore' },
  );
  return { cert, key };
}
