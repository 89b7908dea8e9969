import type { ScenarioFactory } from './types.js';
import { fanoutExpected, names, spread } from './types.js';

/** `fanout`: S subscribers on C channels; the orchestrator publishes through the server API at the pattern's rate. */
export const fanout: ScenarioFactory = (sizes, driver) => {
  const channels = names(driver.channelName('public', 'bench-'), sizes.channels);
  return {
    groups: spread(sizes.subscribers, channels),
    publishChannels: channels,
    expected: (published, _events, _ops, subscribed) => fanoutExpected(published, subscribed),
    primary: 'delivery',
    patternDrivesConnect: false,
    countsMemberEvents: false,
  };
};
