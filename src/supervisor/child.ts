import type { RunningNode } from '../node.js';
import type { Logger } from '../util/logger.js';

/** Env var the supervisor sets on its nodes (not SWITCHBOARD_*: not a config option). */
export const SUPERVISED_ENV = 'SB_SUPERVISED';

/**
 * A supervised node drains and exits when its supervisor is gone (its IPC
 * channel closes): a supervisor killed with -9 must not leave orphan nodes
 * holding ports that no balancer routes to.
 */
export function followSupervisor(node: RunningNode, logger: Logger): void {
  if (process.env[SUPERVISED_ENV] !== '1' || typeof process.send !== 'function') return;
  process.once('disconnect', () => {
    logger.warn('supervisor gone (IPC channel closed): draining and exiting');
    node.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
