import { readFileSync, statSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { Logger } from './logger.js';

export interface TlsPair {
  cert: Buffer;
  key: Buffer;
}

/** The TLS options of a node's or a balancer's config (the same three names in both). */
export interface TlsFiles {
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  /** Seconds between looks at the files for a renewal; 0 = never. */
  readonly tlsReload: number;
}

/** The pair to serve with, read and checked (see readTlsPair); null when the config serves plain HTTP. */
export function tlsPairOf(files: TlsFiles): TlsPair | null {
  return files.tlsCert !== undefined && files.tlsKey !== undefined ? readTlsPair(files.tlsCert, files.tlsKey) : null;
}

/**
 * Read a PEM certificate (chain) and its private key, and check that they
 * load and belong together, so that a wrong path or a mismatched pair is one
 * clear message at start-up instead of a stack trace or a server that fails
 * every handshake.
 */
function readTlsPair(certPath: string, keyPath: string): TlsPair {
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`cannot read the TLS ${what} ${path}: ${(err as Error).message}`);
    }
  };
  const pair = { cert: read('certificate', certPath), key: read('key', keyPath) };
  try {
    createSecureContext(pair);
  } catch (err) {
    throw new Error(`the TLS certificate ${certPath} and key ${keyPath} do not load together: ${(err as Error).message}`);
  }
  return pair;
}

/** What identifies a file's version on disk: a renewal (rewritten in place or swapped by a symlink) changes it. */
function versionOf(path: string): string {
  try {
    const s = statSync(path);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

/** A server whose certificate can be replaced while it runs (node:https and node:tls servers). */
interface SecureServer {
  setSecureContext(options: TlsPair): void;
}

/**
 * Follow a renewed certificate without a restart (certbot, cert-manager
 * rewrite the files in place or swap them): every `intervalMs` the two files
 * are looked at, and when either changed the pair is read, checked and
 * handed to the server; new handshakes get it, open connections keep theirs.
 * A pair that does not load (a renewal caught half written, a key that does
 * not match yet) keeps the current certificate, is logged once, and is tried
 * again on the next look. Returns the stop function (a no-op when there is
 * nothing to watch: plain HTTP, or `tlsReload` 0).
 */
export function watchTlsPair(server: SecureServer | null, files: TlsFiles, logger: Logger): () => void {
  const { tlsCert: certPath, tlsKey: keyPath, tlsReload } = files;
  if (server === null || certPath === undefined || keyPath === undefined || tlsReload <= 0) return () => undefined;
  let loaded = `${versionOf(certPath)}|${versionOf(keyPath)}`;
  let failed = '';
  const timer = setInterval(() => {
    const now = `${versionOf(certPath)}|${versionOf(keyPath)}`;
    if (now === loaded) return;
    try {
      server.setSecureContext(readTlsPair(certPath, keyPath));
      loaded = now;
      failed = '';
      logger.info({ cert: certPath }, 'TLS certificate reloaded');
    } catch (err) {
      if (now !== failed) logger.warn({ cert: certPath, err: (err as Error).message }, 'renewed TLS certificate not loaded; keeping the current one');
      failed = now;
    }
  }, tlsReload * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
