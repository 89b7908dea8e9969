import { createTransport } from '../adapters/create.js';
import { encodeMessage } from '../cluster/messages.js';
import { APPS_SUBJECT } from '../cluster/subjects.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../util/logger.js';
import { AppL2 } from './l2.js';
import type { AnnounceChange } from './manage.js';
import { appsRedis } from './redis-client.js';

/** How long the CLI waits for the broker before giving up on announcing (the nodes then pick the change up on their TTL). */
const CONNECT_WAIT_MS = 3000;

/**
 * The CLI writes to the database itself; running nodes hear of the change on
 * their broker, where the CLI publishes the same message a node would (the
 * cluster link names the subject with the key prefix). It also drops the
 * app's L2 entries. Without a broker (local adapter) nodes see the change
 * when their cache entry expires (appCacheTtl): said on stderr.
 */
export function announcer(config: Config, io: { stderr(text: string): void }): { announce: AnnounceChange; close(): Promise<void> } {
  const log = createLogger('silent');
  const transport = createTransport({ ...config, nodeId: `cli-${process.pid}`, clusterCoalesceMs: 0, clusterCoalesceMinRate: 0 });
  const redis = appsRedis(config, log);
  const l2 = redis === null ? null : new AppL2(redis, config.keyPrefix, config.appCacheTtl * 1000, log);
  let connected: Promise<boolean> | null = null;
  return {
    async announce(appId, keys) {
      await l2?.drop(appId, keys);
      if (transport === null) {
        io.stderr(`note: no broker (adapter ${config.adapter}): running nodes apply this within appCacheTtl (${config.appCacheTtl} s)\n`);
        return;
      }
      connected ??= Promise.race([transport.connect().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), CONNECT_WAIT_MS).unref())]);
      const sent =
        (await connected) && transport.publish(APPS_SUBJECT, encodeMessage({ t: 'app-changed', from: `cli-${process.pid}`, app: appId, keys: [...keys] }));
      if (!sent)
        io.stderr(
          `warning: the ${config.adapter} broker did not take the change announcement: running nodes apply it within appCacheTtl (${config.appCacheTtl} s)\n`,
        );
    },
    async close() {
      // Closing flushes what is queued.
      await transport?.close();
      redis?.disconnect();
    },
  };
}
