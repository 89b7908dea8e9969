import type { IncomingMessage } from 'node:http';
import type { AppManager } from '../apps/manage.js';
import { AppStoreRefusal, type StoredApp } from '../apps/types.js';
import { ErrorCode, SwitchboardError } from '../protocol/errors.js';
import { parseJsonObject, readBody } from './body.js';
import { errorReply, jsonReply, type ApiReply } from './reply.js';

/** The actions of `POST /admin/apps/:appId/:action`, the same as `switchboard apps`. */
const ACTIONS = ['create', 'update', 'enable', 'disable', 'rotate-secret', 'delete'] as const;
type Action = (typeof ACTIONS)[number];

const REFUSAL_STATUS = { 'read-only': 403, conflict: 409, 'not-found': 404, invalid: 400 } as const;

/** An app as the admin API shows it: the secrets masked unless asked for. */
export function describeStored(stored: StoredApp, withSecrets = false): Record<string, unknown> {
  if (!stored.ok) return { id: stored.id, invalid: stored.reason };
  const { secret, previousSecret, ...rest } = stored.app;
  return withSecrets
    ? { ...rest, secret, ...(previousSecret === undefined ? {} : { previousSecret }) }
    : { ...rest, secret: '***', ...(previousSecret === undefined ? {} : { previousSecret: '***' }) };
}

/** `GET /admin/apps`: every app of the store, invalid rows with their reason. */
export async function listApps(manager: AppManager): Promise<ApiReply> {
  return run(async () => jsonReply({ apps: (await manager.list()).map((s) => describeStored(s)) }));
}

/** `GET /admin/apps/:appId` (`?secrets=1` shows the secrets). */
export async function showApp(manager: AppManager, id: string, query: URLSearchParams): Promise<ApiReply> {
  return run(async () => jsonReply({ app: describeStored(await manager.show(id), query.get('secrets') === '1') }));
}

/**
 * `POST /admin/apps/:appId/:action` with a JSON body: create (the app's
 * fields), update (the fields to change), enable, disable, rotate-secret
 * (`{"secret"?, "graceSeconds"?}`), delete. The change is announced to
 * every node before the answer.
 */
export async function changeApp(manager: AppManager, id: string, action: string, req: IncomingMessage, maxBodyBytes: number): Promise<ApiReply> {
  if (!(ACTIONS as readonly string[]).includes(action))
    throw new SwitchboardError(ErrorCode.ApiNotFound, `no app action ${action.slice(0, 50)}; one of ${ACTIONS.join(', ')}`);
  const body = await readBody(req, maxBodyBytes, 'maxHttpBodyBytes');
  const fields = parseJsonObject(body);
  return run(async () => {
    switch (action as Action) {
      case 'create':
        if (fields.id !== undefined && fields.id !== id) throw new AppStoreRefusal('invalid', "the body's id differs from the path's");
        return jsonReply({ app: describeStored({ ok: true, app: await manager.create({ ...fields, id }) }) }, 201);
      case 'update':
        return jsonReply({ app: describeStored({ ok: true, app: await manager.update(id, fields) }) });
      case 'enable':
      case 'disable':
        return jsonReply({ app: describeStored({ ok: true, app: await manager.setEnabled(id, action === 'enable') }) });
      case 'rotate-secret': {
        const secret = fields.secret;
        const grace = fields.graceSeconds;
        if (secret !== undefined && (typeof secret !== 'string' || secret.length === 0))
          throw new AppStoreRefusal('invalid', 'secret must be a non-empty string');
        if (grace !== undefined && (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0))
          throw new AppStoreRefusal('invalid', 'graceSeconds must be a whole number of seconds');
        const rotation = await manager.rotateSecret(id, {
          ...(secret === undefined ? {} : { secret: secret as string }),
          ...(grace === undefined ? {} : { graceSeconds: grace as number }),
        });
        return jsonReply({ id, secret: rotation.secret, previousSecretExpiresAt: rotation.previousSecretExpiresAt });
      }
      case 'delete':
        await manager.delete(id);
        return jsonReply({ deleted: id });
    }
  });
}

async function run(body: () => Promise<ApiReply>): Promise<ApiReply> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof AppStoreRefusal) return errorReply(REFUSAL_STATUS[err.reason], err.message);
    throw err;
  }
}
