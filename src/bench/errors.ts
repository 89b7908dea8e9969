/** A mistake in how the bench was invoked (bad flag, unsupported combination): exit code 2. */
export class SwitchboardBenchUsageError extends Error {
  override name = 'SwitchboardBenchUsageError';
}

/** The target could not be reached or refused every client: exit code 2 with this message. */
export class SwitchboardBenchConnectError extends Error {
  override name = 'SwitchboardBenchConnectError';
}
