import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AlertBook } from '../../src/monitor/alerts.js';
import { ALERT_SIGNATURE_HEADER, AlertSender } from '../../src/monitor/alert-sender.js';
import { createLogger } from '../../src/util/logger.js';

const SECRET = 'alert-secret-0123456789';

interface Received {
  body: string;
  signature: string | undefined;
}

/** A real HTTP receiver that answers with the given statuses in turn (then 200). */
async function receiver(statuses: number[] = []): Promise<{ server: Server; url: string; received: Received[]; attempts: () => number }> {
  const received: Received[] = [];
  let attempts = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      attempts++;
      const status = statuses.shift() ?? 200;
      if (status === 200) received.push({ body, signature: req.headers[ALERT_SIGNATURE_HEADER] as string | undefined });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`, received, attempts: () => attempts };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

const log = createLogger('silent');

describe('alerts', () => {
  it('an alert and its clearing share an alert id; the book lists only open alerts', () => {
    const book = new AlertBook('node-1');
    const fired = book.record('memory', { from: 'ok', to: 'warn', value: 0.85, threshold: 0.8 });
    const worse = book.record('memory', { from: 'warn', to: 'critical', value: 0.95, threshold: 0.9 });
    expect(worse.alertId).toBe(fired.alertId);
    expect(worse.since).toBe(fired.since);
    expect(book.active()).toEqual([worse]);
    const cleared = book.record('memory', { from: 'critical', to: 'ok', value: 0.5, threshold: 0.8 });
    expect(cleared).toMatchObject({ status: 'resolved', alertId: fired.alertId, previousLevel: 'critical' });
    expect(book.active()).toEqual([]);
    expect(book.history().map((n) => n.level)).toEqual(['warn', 'critical', 'ok']);
    const next = book.record('memory', { from: 'ok', to: 'warn', value: 0.85, threshold: 0.8 });
    expect(next.alertId).not.toBe(fired.alertId);
  });

  it('POSTs signed JSON, retries 5xx and network failures, and keeps firing before clearing', async () => {
    const r = await receiver([503, 500]);
    servers.push(r.server);
    const sender = new AlertSender({ urls: [r.url], secret: SECRET, retryForMs: 10_000, attemptTimeoutMs: 2000, baseBackoffMs: 20, maxBackoffMs: 50 }, log);
    const book = new AlertBook('node-1');
    sender.send(book.record('connections', { from: 'ok', to: 'critical', value: 1, threshold: 1 }));
    sender.send(book.record('connections', { from: 'critical', to: 'ok', value: 0.2, threshold: 0.85 }));
    await sender.settled();
    expect(r.attempts()).toBe(4); // two failures, then both notices
    expect(r.received.map((x) => JSON.parse(x.body).status)).toEqual(['firing', 'resolved']);
    for (const x of r.received) expect(x.signature).toBe(createHmac('sha256', SECRET).update(x.body).digest('hex'));
    await sender.stop();
  });

  it('retries a receiver that is down until it comes up', async () => {
    const r = await receiver();
    servers.push(r.server);
    const url = r.url;
    await new Promise((res) => r.server.close(res)); // nothing listens now: connection refused
    servers.pop();
    const sender = new AlertSender({ urls: [url], secret: SECRET, retryForMs: 10_000, attemptTimeoutMs: 1000, baseBackoffMs: 50, maxBackoffMs: 100 }, log);
    sender.send(new AlertBook('n').record('cpu', { from: 'ok', to: 'warn', value: 0.9, threshold: 0.85 }));
    await new Promise((res) => setTimeout(res, 300));
    const port = Number(new URL(url).port);
    const received: string[] = [];
    const back = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        received.push(body);
        res.end();
      });
    });
    await new Promise<void>((resolve) => back.listen(port, '127.0.0.1', resolve));
    servers.push(back);
    await sender.settled();
    expect(received).toHaveLength(1);
    expect(JSON.parse(received[0]!)).toMatchObject({ signal: 'cpu', level: 'warn', status: 'firing' });
    await sender.stop();
  });

  it('gives up after alertRetryFor and does not retry a 4xx', async () => {
    const r = await receiver(Array.from({ length: 200 }, () => 500));
    servers.push(r.server);
    const sender = new AlertSender({ urls: [r.url], secret: SECRET, retryForMs: 600, attemptTimeoutMs: 1000, baseBackoffMs: 40, maxBackoffMs: 80 }, log);
    const book = new AlertBook('n');
    const started = Date.now();
    sender.send(book.record('memory', { from: 'ok', to: 'warn', value: 0.85, threshold: 0.8 }));
    await sender.settled();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(r.received).toHaveLength(0);
    const attemptsAfterGivingUp = r.attempts();
    expect(attemptsAfterGivingUp).toBeGreaterThanOrEqual(2);
    // A 4xx is final: one attempt.
    const r2 = await receiver([400]);
    servers.push(r2.server);
    const sender2 = new AlertSender({ urls: [r2.url], secret: SECRET, retryForMs: 10_000, attemptTimeoutMs: 1000, baseBackoffMs: 10 }, log);
    sender2.send(book.record('memory', { from: 'warn', to: 'ok', value: 0.1, threshold: 0.8 }));
    await sender2.settled();
    expect(r2.attempts()).toBe(1);
    await sender.stop();
    await sender2.stop();
  });
});
