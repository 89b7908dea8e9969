import type { Command } from 'commander';
import type { ConfigCheckIo } from './config-check.js';

/** Where the webhook commands write and what environment they read (SWITCHBOARD_ADMIN_TOKEN). */
export type WebhooksCliIo = ConfigCheckIo;

interface AdminFlags {
  url: string;
  adminToken?: string;
  timeout: string;
}

interface FailedFlags extends AdminFlags {
  limit: string;
  json?: boolean;
}

interface ReplayFlags extends AdminFlags {
  id?: string[];
}

interface FailedEntry {
  id: string;
  appId: string;
  endpoint: string;
  reason: string;
  failedAt: number;
  createdAt: number;
  body: string;
}

/** Exit codes: 0 ok, 1 the node refused or could not be reached, 2 usage. */
const Exit = { Ok: 0, Failure: 1, Usage: 2 } as const;

/** `switchboard webhooks failed|replay`: the dead letters of a running node, through its admin endpoints. */
export function registerWebhookCommands(program: Command, io: WebhooksCliIo, setExitCode: (code: number) => void): void {
  const webhooks = program.command('webhooks').description('list and replay webhook batches a node gave up on (dead letters)');

  addAdminOptions(
    webhooks
      .command('failed')
      .description('list the newest dead-lettered webhook batches, newest first')
      .option('--limit <n>', 'how many to list (the node caps it at 1000)', '100')
      .option('--json', "print the node's JSON answer as it is, for scripts"),
  ).action(async (flags: FailedFlags) => {
    setExitCode(await runFailed(flags, io));
  });

  addAdminOptions(
    webhooks
      .command('replay')
      .description("put dead-lettered batches back at the end of their endpoint's queue (all of them without --id)")
      .option('--id <id...>', 'replay only these batch ids (X-Switchboard-Webhook-Id); repeatable'),
  ).action(async (flags: ReplayFlags) => {
    setExitCode(await runReplay(flags, io));
  });
}

function addAdminOptions(command: Command): Command {
  return command
    .option('--url <url>', 'base URL of the node (its HTTP port)', 'http://127.0.0.1:6001')
    .option('--admin-token <token>', "the node's adminToken (default: $SWITCHBOARD_ADMIN_TOKEN)")
    .option('--timeout <seconds>', "seconds to wait for the node's answer", '10');
}

async function runFailed(flags: FailedFlags, io: WebhooksCliIo): Promise<number> {
  if (!/^\d{1,6}$/.test(flags.limit)) return usage(io, '--limit must be a whole number');
  const answer = await call(flags, io, 'GET', `/webhooks/failed?limit=${flags.limit}`);
  if (typeof answer === 'number') return answer;
  if (flags.json === true) {
    io.stdout(`${answer}\n`);
    return Exit.Ok;
  }
  const { failed } = JSON.parse(answer) as { failed: FailedEntry[] };
  if (failed.length === 0) {
    io.stdout('no failed webhooks\n');
    return Exit.Ok;
  }
  for (const f of failed) {
    const events = eventCount(f.body);
    io.stdout(`${f.id}  ${new Date(f.failedAt).toISOString()}  app ${f.appId}  ${endpointUrl(f)}  ${events} event(s)  ${f.reason}\n`);
  }
  io.stdout(`${failed.length} failed webhook batch(es); replay with: switchboard webhooks replay --id <id>\n`);
  return Exit.Ok;
}

async function runReplay(flags: ReplayFlags, io: WebhooksCliIo): Promise<number> {
  const body = flags.id === undefined ? '' : JSON.stringify({ ids: flags.id });
  const answer = await call(flags, io, 'POST', '/webhooks/replay', body);
  if (typeof answer === 'number') return answer;
  const { replayed } = JSON.parse(answer) as { replayed: number };
  io.stdout(`replayed ${replayed} webhook batch(es)\n`);
  return Exit.Ok;
}

/** One admin request; the answer's text on 2xx, else an exit code after saying why on stderr. */
async function call(flags: AdminFlags, io: WebhooksCliIo, method: 'GET' | 'POST', path: string, body = ''): Promise<string | number> {
  const token = flags.adminToken ?? io.env.SWITCHBOARD_ADMIN_TOKEN;
  if (token === undefined || token === '') return usage(io, 'an admin token is required: --admin-token or SWITCHBOARD_ADMIN_TOKEN');
  let base: URL;
  try {
    base = new URL(flags.url);
  } catch {
    return usage(io, `--url is not a URL: ${flags.url}`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') return usage(io, '--url must be http:// or https://');
  const seconds = Number(flags.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0) return usage(io, '--timeout must be a positive number of seconds');
  try {
    // Loaded here so `--help` and the other commands never load the HTTP client.
    const { request } = await import('undici');
    const res = await request(new URL(path, base), {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === '' ? {} : { 'content-type': 'application/json' }) },
      body: body === '' ? null : body,
      signal: AbortSignal.timeout(seconds * 1000),
    });
    const text = await res.body.text();
    if (res.statusCode >= 200 && res.statusCode < 300) return text;
    const hint = res.statusCode === 404 ? ' (is adminToken set on the node?)' : '';
    io.stderr(`switchboard webhooks: the node answered ${res.statusCode}${hint}: ${errorText(text)}\n`);
    return Exit.Failure;
  } catch (err) {
    io.stderr(`switchboard webhooks: could not reach ${base.origin}: ${err instanceof Error ? err.message : String(err)}\n`);
    return Exit.Failure;
  }
}

function usage(io: WebhooksCliIo, message: string): number {
  io.stderr(`switchboard webhooks: ${message}\n`);
  return Exit.Usage;
}

function errorText(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: show it as it is
  }
  return text.slice(0, 500);
}

function eventCount(body: string): number | '?' {
  try {
    return (JSON.parse(body) as { events: unknown[] }).events.length;
  } catch {
    return '?';
  }
}

/** The endpoint key is `<appId> <url>`: show the URL. */
function endpointUrl(f: FailedEntry): string {
  return f.endpoint.startsWith(`${f.appId} `) ? f.endpoint.slice(f.appId.length + 1) : f.endpoint;
}
