import type { ScenarioFactory } from './types.js';
import { fanoutExpected, names, spread } from './types.js';

/** `chat`: rooms where every member sends client events (the pattern is the total rate) and receives the others'. */
export const chat: ScenarioFactory = (sizes, driver) => {
  const rooms = names(driver.channelName('private', 'chat-'), sizes.rooms);
  return {
    groups: spread(sizes.rooms * sizes.roomSize, rooms),
    publishChannels: [],
    activity: (pattern) => ({ kind: 'client-events', pattern, payloadBytes: 0 }),
    expected: (_published, events, _ops, subscribed) => fanoutExpected(events, subscribed, 1),
    primary: 'delivery',
    patternDrivesConnect: false,
    countsMemberEvents: false,
  };
};
