import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedPair } from '../helpers/tls.js';
import { backendsUp, ScriptedBackend, sleep, startBalancer, until, WS_PATH } from './helpers.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let dir: string;
/** A self-signed pair for common name `name`, in `dir`. */
const makePair = (name: string): { cert: string; key: string } => selfSignedPair(dir, name);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sb-balancer-tls-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The common name of the certificate a new TLS connection to the balancer is shown. */
function servedName(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const name = socket.getPeerCertificate().subject?.CN;
      socket.destroy();
      resolve(String(name));
    });
    socket.on('error', reject);
  });
}

function httpsGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function firstMessage(ws: WebSocket): Promise<{ event: string }> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data) => resolve(JSON.parse(String(data)) as { event: string }));
    ws.once('error', reject);
  });
}

async function tlsBalancer(pair: { cert: string; key: string }, tlsReload = 30) {
  const backend = await ScriptedBackend.start();
  cleanups.push(() => backend.stop());
  const balancer = await startBalancer({ backend: [backend.address], tlsCert: pair.cert, tlsKey: pair.key, tlsReload });
  cleanups.push(() => balancer.stop());
  await backendsUp(balancer);
  return { backend, balancer };
}

describe('balancer: TLS termination', () => {
  it('wss:// and https:// through the balancer reach a plain node, told the client spoke https; plain ws:// on the port fails', async () => {
    const { backend, balancer } = await tlsBalancer(makePair('one'));

    const ws = new WebSocket(`wss://127.0.0.1:${balancer.port}${WS_PATH}`, { rejectUnauthorized: false, headers: { 'X-Forwarded-Proto': 'http' } });
    cleanups.push(() => ws.terminate());
    expect((await firstMessage(ws)).event).toBe('pusher:connection_established');
    const upgrade = backend.requests.find((r) => r.headers.upgrade !== undefined);
    expect(upgrade?.headers['x-forwarded-proto']).toBe('https');

    const api = await httpsGet(balancer.port, '/apps/1/channels');
    expect(api.status).toBe(200);
    expect((JSON.parse(api.body) as { headers: Record<string, string> }).headers['x-forwarded-proto']).toBe('https');

    const plain = new WebSocket(`ws://127.0.0.1:${balancer.port}${WS_PATH}`);
    const outcome = await new Promise<string>((resolve) => {
      plain.once('open', () => resolve('open'));
      plain.once('error', () => resolve('error'));
    });
    expect(outcome).toBe('error');
    await until(
      async () => /proxy_errors_total\{kind="tls-handshake"\} [1-9]/.test((await httpsGet(balancer.port, '/metrics')).body),
      2000,
      'tls-handshake counted',
    );
    // The tunnel opened before still works.
    const echoed = firstMessage(ws);
    ws.send('{"event":"ping-through"}');
    expect((await echoed).event).toBe('ping-through');
  });

  it('a renewed certificate reaches new connections without a restart; open tunnels stay; a broken renewal keeps the current one', async () => {
    const live = { cert: join(dir, 'live.crt'), key: join(dir, 'live.key') };
    const first = makePair('first');
    copyFileSync(first.cert, live.cert);
    copyFileSync(first.key, live.key);
    const { balancer } = await tlsBalancer(live, 0.1);
    expect(await servedName(balancer.port)).toBe('first');
    const ws = new WebSocket(`wss://127.0.0.1:${balancer.port}${WS_PATH}`, { rejectUnauthorized: false });
    cleanups.push(() => ws.terminate());
    await firstMessage(ws);

    // Written one file after the other, as a renewal does: in between the pair does not match.
    const second = makePair('second');
    copyFileSync(second.cert, live.cert);
    await sleep(300);
    expect(await servedName(balancer.port)).toBe('first');
    copyFileSync(second.key, live.key);
    await until(async () => (await servedName(balancer.port)) === 'second', 5000, 'the renewed certificate served');
    expect(ws.readyState).toBe(WebSocket.OPEN);
    const echoed = firstMessage(ws);
    ws.send('{"event":"after-renewal"}');
    expect((await echoed).event).toBe('after-renewal');

    writeFileSync(live.cert, 'not a certificate');
    await sleep(400);
    expect(await servedName(balancer.port)).toBe('second');
  });
});
