/** One problem with the configuration: where it is and what is wrong. */
export interface ConfigIssue {
  /** Dotted field path (`apps.1.key`), or the env variable / file that is wrong. */
  readonly path: string;
  readonly message: string;
}

/** Thrown by `loadConfig` with every problem found, so a user fixes them in one go. */
export class ConfigError extends Error {
  readonly code = 'ERR_SWITCHBOARD_CONFIG';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(`invalid configuration:\n${formatIssues(issues)}`);
    this.name = 'ConfigError';
    this.issues = Object.freeze([...issues]);
  }
}

function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join('\n');
}

/** One `path: reason` line per issue for a ConfigError; the message for anything else. */
export function formatConfigError(error: unknown): string {
  if (error instanceof ConfigError) return formatIssues(error.issues);
  if (error instanceof Error) return error.message;
  return String(error);
}
