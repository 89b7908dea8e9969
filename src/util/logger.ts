import { pino, type Logger } from 'pino';

export type { Logger };

/** The node's one logger. Level comes from config; tests pass 'silent'. */
export function createLogger(level: string = process.env.SWITCHBOARD_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { pid: process.pid } });
}
