import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import type { RunningNode } from '../../src/node.js';
import { startTestNode } from '../helpers/node.js';
import { APP, appWith, eventually, occupied, Receiver, validBySdk } from './helpers.js';

const TOKEN = 'admin-token-0123456789';
const nodes: RunningNode[] = [];
const receivers: Receiver[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop({ drainSeconds: 0 });
  for (const r of receivers.splice(0)) await r.close();
});

async function nodeWithHooks(receiver: Receiver, adminToken: string | null = TOKEN): Promise<RunningNode> {
  const node = await startTestNode({
    ...(adminToken === null ? {} : { adminToken }),
    webhookBatchSize: 1,
    webhookRetryBaseMs: 20,
    webhookRetryMaxMs: 50,
    apps: [appWith([{ url: receiver.url(), eventTypes: ['channel_occupied'] }])],
  });
  nodes.push(node);
  return node;
}

async function receiverAnswering(statusFor: (i: number) => number): Promise<Receiver> {
  const r = await Receiver.start();
  receivers.push(r);
  r.handler = (_req, res, _r, i) => {
    res.statusCode = statusFor(i);
    res.end('{}');
  };
  return r;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const done = runCli(args, { stdout: (t) => void out.push(t), stderr: (t) => void err.push(t), env });
  return done.then((code) => ({ code, stdout: out.join(''), stderr: err.join('') }));
}

/** Emit one event, let the receiver refuse it with 400 and return the dead letter's id. */
async function oneDeadLetter(node: RunningNode, receiver: Receiver): Promise<string> {
  node.webhooks.emit(APP.id, occupied('presence-lost'));
  const [first] = await receiver.waitFor(1);
  const id = first!.headers['x-switchboard-webhook-id'] as string;
  await eventually(async () => (await node.webhooks.listDead(1))[0]?.batch.id === id, 5000, 'the dead letter');
  return id;
}

describe('webhook admin endpoints', () => {
  it('answer 404 when adminToken is unset, 401 on a missing or wrong token', async () => {
    const receiver = await receiverAnswering(() => 200);
    const off = await nodeWithHooks(receiver, null);
    expect((await fetch(`http://127.0.0.1:${off.port}/webhooks/failed`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${off.port}/webhooks/replay`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);

    const on = await nodeWithHooks(receiver);
    const base = `http://127.0.0.1:${on.port}`;
    expect((await fetch(`${base}/webhooks/failed`)).status).toBe(401);
    expect((await fetch(`${base}/webhooks/failed`, { headers: { authorization: `Bearer ${TOKEN}x` } })).status).toBe(401);
    expect((await fetch(`${base}/webhooks/failed`, { headers: { authorization: TOKEN } })).status).toBe(401);
    const refused = await fetch(`${base}/webhooks/replay`, { method: 'POST', headers: { authorization: 'Bearer wrong' } });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ error: 'Admin endpoint: missing or wrong bearer token' });
    const ok = await fetch(`${base}/webhooks/failed`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ failed: [] });
  });

  it('list a 400-refused batch as failed, and POST /webhooks/replay delivers it again with its id and events, timed now', async () => {
    const receiver = await receiverAnswering((i) => (i === 0 ? 400 : 200));
    const node = await nodeWithHooks(receiver);
    const base = `http://127.0.0.1:${node.port}`;
    const id = await oneDeadLetter(node, receiver);
    const auth = { authorization: `Bearer ${TOKEN}` };

    const listed = (await (await fetch(`${base}/webhooks/failed?limit=5`, { headers: auth })).json()) as { failed: Array<Record<string, unknown>> };
    expect(listed.failed).toHaveLength(1);
    expect(listed.failed[0]).toMatchObject({ id, appId: APP.id, reason: 'refused: HTTP 400', body: receiver.requests[0]!.rawBody });
    expect((await fetch(`${base}/webhooks/failed?limit=x`, { headers: auth })).status).toBe(400);
    expect((await fetch(`${base}/webhooks/replay`, { method: 'POST', headers: auth, body: '{"ids":"no"}' })).status).toBe(400);

    const replay = await fetch(`${base}/webhooks/replay`, { method: 'POST', headers: auth, body: JSON.stringify({ ids: [id] }) });
    expect(await replay.json()).toEqual({ replayed: 1 });
    const [first, again] = await receiver.waitFor(2);
    expect(again!.headers['x-switchboard-webhook-id']).toBe(id);
    // The same events, with a time_ms of the replay: receivers refuse one older than 5 minutes.
    expect(again!.body.events).toEqual(first!.body.events);
    expect(again!.body.time_ms).toBeGreaterThanOrEqual(first!.body.time_ms);
    expect(validBySdk(again!)).toBe(true);
    expect(await node.webhooks.listDead(10)).toEqual([]);
  });

  it('the CLI lists failed batches and replays them by id (token from the flag or SWITCHBOARD_ADMIN_TOKEN)', async () => {
    const receiver = await receiverAnswering((i) => (i === 0 ? 400 : 200));
    const node = await nodeWithHooks(receiver);
    const url = `http://127.0.0.1:${node.port}`;
    const id = await oneDeadLetter(node, receiver);

    const asJson = await cli(['webhooks', 'failed', '--url', url, '--admin-token', TOKEN, '--json']);
    expect(asJson.code).toBe(0);
    expect((JSON.parse(asJson.stdout) as { failed: Array<{ id: string }> }).failed.map((f) => f.id)).toEqual([id]);

    const table = await cli(['webhooks', 'failed', '--url', url], { SWITCHBOARD_ADMIN_TOKEN: TOKEN });
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(id);
    expect(table.stdout).toContain(receiver.url());
    expect(table.stdout).toContain('refused: HTTP 400');

    const wrong = await cli(['webhooks', 'replay', '--url', url, '--admin-token', 'not-the-token-at-all']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('401');
    const missing = await cli(['webhooks', 'replay', '--url', url]);
    expect(missing.code).toBe(2);

    const replayed = await cli(['webhooks', 'replay', '--url', url, '--admin-token', TOKEN, '--id', id]);
    expect(replayed).toMatchObject({ code: 0, stdout: 'replayed 1 webhook batch(es)\n' });
    const [, again] = await receiver.waitFor(2);
    expect(again!.headers['x-switchboard-webhook-id']).toBe(id);
    expect(validBySdk(again!)).toBe(true);
    expect((await cli(['webhooks', 'failed', '--url', url, '--admin-token', TOKEN])).stdout).toBe('no failed webhooks\n');
  });

  it('the CLI says what each option does', async () => {
    const failed = await cli(['webhooks', 'failed', '--help']);
    expect(failed.code).toBe(0);
    for (const text of ['--url <url>', 'base URL of the node', '--admin-token <token>', 'SWITCHBOARD_ADMIN_TOKEN', '--json', '--limit <n>'])
      expect(failed.stdout).toContain(text);
    const replay = await cli(['webhooks', 'replay', '--help']);
    expect(replay.stdout).toContain('--id <id...>');
    expect(replay.stdout).toContain('replay only these batch ids');
  });

  it('the node stops its webhooks with it', async () => {
    const receiver = await receiverAnswering(() => 200);
    const node = await nodeWithHooks(receiver);
    expect(node.webhooks.enabled).toBe(true);
    node.webhooks.emit(APP.id, occupied('x'));
    await receiver.waitFor(1);
    await node.stop({ drainSeconds: 0 });
    nodes.splice(nodes.indexOf(node), 1);
    node.webhooks.emit(APP.id, occupied('after-stop'));
    await new Promise((r) => setTimeout(r, 100));
    expect(receiver.requests).toHaveLength(1);
  });
});
