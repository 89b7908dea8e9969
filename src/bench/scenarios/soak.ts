import { fanout } from './fanout.js';
import type { ScenarioFactory } from './types.js';
import { names } from './types.js';

/** `soak`: fan-out at the pattern's rate plus steady connection churn, for long runs that watch memory and loss. */
export const soak: ScenarioFactory = (sizes, driver) => {
  const base = fanout(sizes, driver);
  const churnChannels = names(driver.channelName('public', 'soak-churn-'), 4);
  return {
    ...base,
    activity: () => ({ kind: 'churn', pattern: { kind: 'constant', rate: sizes.churnRate }, channels: churnChannels, holdMs: sizes.holdMs }),
  };
};
