import { errorMessage } from '../../adapters/link.js';
import type { Logger } from '../../util/logger.js';
import { LogLimiter } from '../log-limiter.js';

/**
 * A queue driver's broker-link log lines: failures at warn, at most one per
 * interval (a broker down for minutes is retried hundreds of times), and one
 * info line when the link works again after a failure was logged.
 */
export class LinkLog {
  private readonly limiter = new LogLimiter();
  private failing = false;

  constructor(
    private readonly logger: Logger,
    private readonly broker: 'redis' | 'rabbitmq',
    /** The broker's URL with any password taken out. */
    private readonly url: string,
  ) {}

  failed(err: unknown): void {
    this.failing = true;
    this.limiter.maybe('link', (suppressed) =>
      this.logger.warn({ url: this.url, err: errorMessage(err), suppressedSinceLast: suppressed }, `webhook queue: ${this.broker} unavailable, retrying`),
    );
  }

  back(): void {
    if (!this.failing) return;
    this.failing = false;
    this.logger.info({ url: this.url }, `webhook queue: ${this.broker} connection back`);
  }
}
