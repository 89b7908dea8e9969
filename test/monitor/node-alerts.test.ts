import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { useTestResources } from '../helpers/lifecycle.js';
import { sleep } from '../helpers/node.js';

const SECRET = 'node-alert-secret-0123';

describe('alerts from a running node', () => {
  const resources = useTestResources();
  let server: Server | null = null;
  afterEach(async () => {
    await new Promise((resolve) => (server === null ? resolve(undefined) : server.close(resolve)));
    server = null;
  });

  it('POSTs the firing and the clearing of a connections alert, signed, to a real receiver (after a 503 it retries)', async () => {
    const bodies: Array<{ body: string; signature: string }> = [];
    let failFirst = true;
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        if (failFirst) {
          failFirst = false;
          res.writeHead(503).end();
          return;
        }
        bodies.push({ body, signature: String(req.headers['x-switchboard-signature']) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const node = await resources.node({
      maxConnections: 4,
      monitorConnectionsWarn: 0.5,
      monitorConnectionsCritical: 0.75,
      monitorIntervalMs: 100,
      alertUrls: [url],
      alertSecret: SECRET,
    });
    const clients = [await resources.raw(node), await resources.raw(node), await resources.raw(node)];
    const deadline = Date.now() + 8000;
    while (!bodies.some((b) => JSON.parse(b.body).status === 'firing') && Date.now() < deadline) await sleep(50);
    for (const c of clients) c.ws.close();
    while (!bodies.some((b) => JSON.parse(b.body).status === 'resolved') && Date.now() < deadline) await sleep(50);
    const notices = bodies.map((b) => JSON.parse(b.body) as { signal: string; status: string; level: string; alertId: string; node: string; value: number });
    const connections = notices.filter((n) => n.signal === 'connections');
    expect(connections.map((n) => `${n.status}:${n.level}`)).toEqual(['firing:critical', 'resolved:ok']);
    expect(connections[0]!.alertId).toBe(connections[1]!.alertId);
    expect(connections[0]!.value).toBe(0.75);
    expect(connections[0]!.node).toBe(`127.0.0.1:${node.port}`);
    for (const b of bodies) expect(b.signature).toBe(createHmac('sha256', SECRET).update(b.body).digest('hex'));
  }, 15_000);
});
