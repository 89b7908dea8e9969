import type { ScenarioFactory } from './types.js';
import { names } from './types.js';

/** `churn`: connect, subscribe, hold, disconnect loops started at the pattern's rate. */
export const churn: ScenarioFactory = (sizes, driver) => {
  const channels = names(driver.channelName('public', 'churn-'), Math.max(1, sizes.channels));
  return {
    groups: [],
    publishChannels: [],
    activity: (pattern) => ({ kind: 'churn', pattern, channels, holdMs: sizes.holdMs }),
    expected: () => 0,
    primary: 'operation',
    patternDrivesConnect: false,
    countsMemberEvents: false,
  };
};
