import { SwitchboardBenchUsageError } from '../errors.js';
import type { ScenarioFactory } from './types.js';
import { names, spread } from './types.js';

/** `presence`: stable members on presence channels watch clients join and leave at the pattern's rate. */
export const presence: ScenarioFactory = (sizes, driver) => {
  if (!driver.presence) throw new SwitchboardBenchUsageError(`the ${driver.name} driver has no presence channels; use --driver pusher`);
  const channels = names(driver.channelName('presence', 'bench-'), sizes.channels);
  return {
    groups: spread(sizes.members * sizes.channels, channels),
    publishChannels: [],
    activity: (pattern) => ({ kind: 'churn', pattern, channels, holdMs: sizes.holdMs }),
    // Every join and its leave reach every stable member of the channel: member_added + member_removed.
    expected: (_published, _events, ops, subscribed) => {
      const watchers = Object.values(subscribed).reduce((a, b) => a + b, 0) / Math.max(1, channels.length);
      return Math.round(ops * 2 * watchers);
    },
    primary: 'operation',
    patternDrivesConnect: false,
    countsMemberEvents: true,
  };
};
