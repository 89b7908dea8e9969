import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { balancerConfig } from '../../src/balancer/config.js';
import { renderHaproxyConfig } from '../../src/balancer/haproxy.js';
import { repoRoot } from './k8s.js';

const cfgPath = join(repoRoot, 'deploy/haproxy/haproxy.cfg');
const text = readFileSync(cfgPath, 'utf8');

/** HAProxy's binary: Debian installs it in /usr/sbin (CI: apt-get install -y haproxy). */
const haproxy = ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p));

/** Directive lines without comments, time values in seconds (1h = 3600s = 3600000ms). */
function directives(cfg: string): string[] {
  const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };
  return cfg
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l !== '')
    .map((l) => l.replace(/\b(\d+(?:\.\d+)?)(ms|s|m|h|d)\b/g, (_, n: string, u: string) => `${Number(n) * unit[u]!}s`));
}

/** `section name` → its directives, in order. */
function sections(cfg: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current = '';
  for (const line of directives(cfg)) {
    if (/^(global|defaults|frontend|backend|listen)\b/.test(line)) {
      current = line;
      out.set(current, []);
    } else out.get(current)?.push(line);
  }
  return out;
}

describe('deploy/haproxy/haproxy.cfg', () => {
  it.skipIf(haproxy === undefined)('passes haproxy -c (skipped only when no haproxy binary is installed)', () => {
    const out = execFileSync(haproxy!, ['-c', '-f', cfgPath], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).toMatch(/Configuration file is valid/);
  });

  it('balances leastconn, checks /ready, tunnels WebSockets for an hour, backends on 6001/6002', () => {
    const s = sections(text);
    const backend = s.get('backend nodes')!;
    expect(backend).toContain('balance leastconn');
    expect(backend).toContain('option httpchk GET /ready');
    expect(backend.filter((l) => l.startsWith('server ')).map((l) => l.split(/\s+/)[2])).toEqual(['127.0.0.1:6001', '127.0.0.1:6002']);
    const defaults = s.get('defaults')!;
    expect(defaults).toContain('timeout tunnel 3600s');
    expect(defaults.some((l) => l.startsWith('timeout client '))).toBe(true);
    expect(defaults.some((l) => l.startsWith('timeout server '))).toBe(true);
  });

  it('holds every line `switchboard balance --print-haproxy` renders for the same options, section by section', () => {
    const rendered = renderHaproxyConfig(balancerConfig({ algorithm: 'least-connections', backend: ['127.0.0.1:6001', '127.0.0.1:6002'] }));
    const mine = sections(text);
    const theirs = sections(rendered);
    expect([...mine.keys()]).toEqual([...theirs.keys()]);
    for (const [name, lines] of theirs) {
      const missing = lines.filter((l) => !mine.get(name)!.includes(l));
      expect(missing, `${name}: lines of the generated file missing here`).toEqual([]);
    }
    // The only additions: FIN timeouts for half-closed sockets.
    const extra = [...mine].flatMap(([name, lines]) => lines.filter((l) => !theirs.get(name)!.includes(l)));
    expect(extra).toEqual(['timeout client-fin 30s', 'timeout server-fin 30s']);
  });
});
