import type { Logger } from './logger.js';

/**
 * SIGTERM/SIGINT stop `what` gracefully (a node drains; the supervisor drains
 * its nodes) and exit 0; a second signal exits at once, after `now` (say,
 * killing child processes that would outlive us).
 */
export function exitOnSignals(what: { stop(): Promise<void> }, logger: Logger, now?: () => void): void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    received++;
    if (received > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      now?.();
      process.exit(1);
    }
    logger.info({ signal }, 'shutting down gracefully');
    what.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
