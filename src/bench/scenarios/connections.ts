import type { ScenarioFactory } from './types.js';
import { names } from './types.js';

/** `connections`: open N clients following the load pattern, each on its own channel, then hold them. */
export const connections: ScenarioFactory = (sizes, driver) => ({
  groups: names(driver.channelName('public', 'bench-conn-'), sizes.connections).map((channel, i) => ({ channel, count: 1, firstIndex: i })),
  publishChannels: [],
  expected: () => 0,
  primary: 'connect',
  patternDrivesConnect: true,
  countsMemberEvents: false,
});
