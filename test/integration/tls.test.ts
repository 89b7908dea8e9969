import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RunningNode } from '../../src/node.js';
import { startTestNode } from '../helpers/node.js';
import { selfSignedPair } from '../helpers/tls.js';

// --tls-cert/--tls-key: the node serves wss:// and https:// itself.
describe('TLS', () => {
  let dir: string;
  let node: RunningNode;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-tls-'));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'ignore' },
    );
    node = await startTestNode({ tlsCert: join(dir, 'cert.pem'), tlsKey: join(dir, 'key.pem') });
  });

  afterAll(async () => {
    await node?.stop({ drainSeconds: 0 });
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers https requests', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: node.port, path: '/health', rejectUnauthorized: false }, (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end();
    });
    expect(JSON.parse(body)).toEqual({ ok: true });
  });

  it('accepts wss connections and speaks the protocol over them', async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${node.port}/app/app-key?protocol=7`, { rejectUnauthorized: false });
    const first = await new Promise<{ event: string }>((resolve, reject) => {
      ws.once('message', (data) => resolve(JSON.parse(String(data))));
      ws.once('error', reject);
    });
    expect(first.event).toBe('pusher:connection_established');
    ws.close();
  });

  it('does not speak plain ws on a TLS port', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/app/app-key?protocol=7`);
    const outcome = await new Promise<string>((resolve) => {
      ws.once('open', () => resolve('open'));
      ws.once('error', () => resolve('error'));
    });
    expect(outcome).toBe('error');
  });

  it('serves a renewed certificate to new connections without a restart', async () => {
    const make = (name: string): void => void selfSignedPair(dir, name);
    make('before');
    make('after');
    copyFileSync(join(dir, 'before.crt'), join(dir, 'live.crt'));
    copyFileSync(join(dir, 'before.key'), join(dir, 'live.key'));
    const renewing = await startTestNode({ tlsCert: join(dir, 'live.crt'), tlsKey: join(dir, 'live.key'), tlsReload: 0.1 });
    try {
      const served = (): Promise<string> =>
        new Promise((resolve, reject) => {
          const socket = tlsConnect({ host: '127.0.0.1', port: renewing.port, rejectUnauthorized: false }, () => {
            resolve(String(socket.getPeerCertificate().subject?.CN));
            socket.destroy();
          });
          socket.on('error', reject);
        });
      expect(await served()).toBe('before');
      copyFileSync(join(dir, 'after.crt'), join(dir, 'live.crt'));
      copyFileSync(join(dir, 'after.key'), join(dir, 'live.key'));
      const deadline = Date.now() + 5000;
      while ((await served()) !== 'after' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await served()).toBe('after');
    } finally {
      await renewing.stop({ drainSeconds: 0 });
    }
  });
});
