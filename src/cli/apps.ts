import { Option, type Command } from 'commander';
import { ConfigError, formatConfigError } from '../config/errors.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { ConfigCheckIo } from './config-check.js';

/** Where the apps commands write and what environment they read. */
export type AppsCliIo = ConfigCheckIo;

const Exit = { Ok: 0, Failure: 1, Usage: 2 } as const;

/** The config options the apps commands take (the same names as `switchboard start`). */
const CONFIG_FLAGS: ReadonlyArray<[string, string, string]> = [
  ['--app-store <static|postgres|mysql>', 'appStore', 'where apps are (env: SWITCHBOARD_APP_STORE)'],
  ['--app-store-url <url>', 'appStoreUrl', 'the app database (env: SWITCHBOARD_APP_STORE_URL)'],
  ['--app-store-schema <switchboard|soketi>', 'appStoreSchema', 'the table layout (env: SWITCHBOARD_APP_STORE_SCHEMA)'],
  ['--app-store-table <name>', 'appStoreTable', 'the table name (env: SWITCHBOARD_APP_STORE_TABLE)'],
  ['--adapter <local|redis|nats>', 'adapter', "the nodes' broker: changes are announced on it (env: SWITCHBOARD_ADAPTER)"],
  ['--redis-url <url>', 'redisUrl', "the nodes' Redis (env: SWITCHBOARD_REDIS_URL)"],
  ['--nats-url <url>', 'natsUrl', "the nodes' NATS (env: SWITCHBOARD_NATS_URL)"],
  ['--key-prefix <prefix>', 'keyPrefix', "the nodes' key prefix (env: SWITCHBOARD_KEY_PREFIX)"],
  ['--app-secret-grace <seconds>', 'appSecretGrace', 'default grace of rotate-secret (env: SWITCHBOARD_APP_SECRET_GRACE)'],
];

type Flags = Record<string, unknown>;

/** `switchboard apps create|list|show|update|enable|disable|rotate-secret|delete|migrate`: the app store, directly. */
export function registerAppsCommands(program: Command, io: AppsCliIo, setExitCode: (code: number) => void): void {
  const apps = program.command('apps').description('manage apps in the app store (postgres or mysql); changes reach running nodes through their broker');
  const command = (name: string, description: string): Command => {
    const c = apps.command(name).description(description).option('--config <file>', 'config file (env: SWITCHBOARD_CONFIG)');
    for (const [flags, , help] of CONFIG_FLAGS) c.addOption(new Option(flags, help));
    return c;
  };
  const act = (run: (flags: Flags, ctx: Context) => Promise<unknown>) => async (flags: Flags) => setExitCode(await withContext(flags, io, run));

  command('migrate', 'create the apps table when it is missing (docs/apps.md has its columns)').action(
    act(async (_flags, ctx) => {
      await ctx.manager.store.migrate();
      ctx.print({ migrated: true, store: ctx.config.appStore, schema: ctx.config.appStoreSchema });
    }),
  );
  command('list', 'list the apps (secrets masked)').action(
    act(async (_flags, ctx) => ctx.print({ apps: (await ctx.manager.list()).map((s) => ctx.describe(s, false)) })),
  );
  command('show', 'show one app')
    .requiredOption('--id <id>', 'the app id')
    .option('--secrets', 'show the secrets too')
    .action(act(async (flags, ctx) => ctx.print({ app: ctx.describe(await ctx.manager.show(String(flags.id)), flags.secrets === true) })));
  command('create', 'create an app')
    .requiredOption('--id <id>', 'the app id')
    .requiredOption('--key <key>', 'the public key')
    .option('--secret <secret>', 'the secret (generated when omitted, and printed)')
    .option('--name <name>', 'a label')
    .option('--disabled', 'create it disabled')
    .option('--fields <json>', 'any other app fields as a JSON object, e.g. {"maxConnections":100,"webhooks":[...]}')
    .action(
      act(async (flags, ctx) => {
        const secret = typeof flags.secret === 'string' ? flags.secret : (await import('node:crypto')).randomBytes(24).toString('base64url');
        const fields = parseFields(flags.fields);
        const app = await ctx.manager.create({
          ...fields,
          id: flags.id,
          key: flags.key,
          secret,
          ...(flags.name === undefined ? {} : { name: flags.name }),
          ...(flags.disabled === true ? { enabled: false } : {}),
        });
        ctx.print({ app: ctx.describe({ ok: true, app }, true) });
      }),
    );
  command('update', "change an app's fields (the rest stay)")
    .requiredOption('--id <id>', 'the app id')
    .option('--key <key>', 'a new public key')
    .option('--secret <secret>', 'a new secret, without grace (see rotate-secret)')
    .option('--name <name>', 'a new label')
    .option('--fields <json>', 'other fields to change, as a JSON object')
    .action(
      act(async (flags, ctx) => {
        const patch: Flags = { ...parseFields(flags.fields) };
        for (const name of ['key', 'secret', 'name']) if (typeof flags[name] === 'string') patch[name] = flags[name];
        ctx.print({ app: ctx.describe({ ok: true, app: await ctx.manager.update(String(flags.id), patch) }, false) });
      }),
    );
  for (const [name, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    command(name, enabled ? 'let an app connect and publish again' : 'refuse an app: its connections close with 4003 on every node, its API calls get 403')
      .requiredOption('--id <id>', 'the app id')
      .action(act(async (flags, ctx) => ctx.print({ app: ctx.describe({ ok: true, app: await ctx.manager.setEnabled(String(flags.id), enabled) }, false) })));
  }
  command('rotate-secret', 'give an app a new secret; the old one keeps verifying for the grace period')
    .requiredOption('--id <id>', 'the app id')
    .option('--secret <secret>', 'the new secret (generated when omitted)')
    .option('--grace <seconds>', 'seconds the old secret stays valid (default: appSecretGrace)')
    .action(
      act(async (flags, ctx) => {
        const grace = flags.grace === undefined ? undefined : Number(flags.grace);
        if (grace !== undefined && (!Number.isInteger(grace) || grace < 0)) throw new UsageError('--grace must be a whole number of seconds');
        const rotation = await ctx.manager.rotateSecret(String(flags.id), {
          ...(typeof flags.secret === 'string' ? { secret: flags.secret } : {}),
          ...(grace === undefined ? {} : { graceSeconds: grace }),
        });
        ctx.print({ id: flags.id, secret: rotation.secret, previousSecretExpiresAt: new Date(rotation.previousSecretExpiresAt).toISOString() });
      }),
    );
  command('delete', 'delete an app: its connections close with 4003 on every node')
    .requiredOption('--id <id>', 'the app id')
    .action(
      act(async (flags, ctx) => {
        await ctx.manager.delete(String(flags.id));
        ctx.print({ deleted: flags.id });
      }),
    );
}

class UsageError extends Error {}

interface Context {
  config: Config;
  manager: import('../apps/manage.js').AppManager;
  print(value: unknown): void;
  describe(stored: import('../apps/types.js').StoredApp, withSecrets: boolean): Record<string, unknown>;
}

function parseFields(raw: unknown): Flags {
  if (raw === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(String(raw));
  } catch {
    throw new UsageError('--fields must be a JSON object');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError('--fields must be a JSON object');
  return parsed as Flags;
}

async function withContext(flags: Flags, io: AppsCliIo, run: (flags: Flags, ctx: Context) => Promise<unknown>): Promise<number> {
  const argv: Flags = {};
  for (const [, key] of CONFIG_FLAGS) if (flags[key] !== undefined) argv[key] = flags[key];
  if (flags.config !== undefined) argv.config = flags.config;
  let config: Config;
  try {
    config = loadConfig({ argv, env: io.env });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr(`${formatConfigError(err)}\n`);
    return Exit.Usage;
  }
  // Loaded here so that `--help` and the node never load the drivers for nothing.
  const { createAppStore } = await import('../apps/create.js');
  const { AppManager } = await import('../apps/manage.js');
  const { AppStoreRefusal } = await import('../apps/types.js');
  const { describeStored } = await import('../api/admin-apps.js');
  const { announcer } = await import('../apps/cli-announce.js');
  const store = createAppStore(config);
  const announce = announcer(config, io);
  try {
    const manager = new AppManager(store, announce.announce, config.appSecretGrace);
    await run(flags, { config, manager, print: (value) => io.stdout(`${JSON.stringify(value, null, 2)}\n`), describe: describeStored });
    return Exit.Ok;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`${err.message}\n`);
      return Exit.Usage;
    }
    if (err instanceof AppStoreRefusal) {
      io.stderr(`${err.message}\n`);
      return Exit.Failure;
    }
    io.stderr(`app store failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return Exit.Failure;
  } finally {
    await announce.close();
    await store.close().catch(() => undefined);
  }
}
