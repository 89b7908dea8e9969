import { chat } from './chat.js';
import { churn } from './churn.js';
import { connections } from './connections.js';
import { fanout } from './fanout.js';
import { presence } from './presence.js';
import { soak } from './soak.js';
import type { ScenarioFactory, ScenarioName } from './types.js';

export * from './types.js';

const factories: Record<ScenarioName, ScenarioFactory> = { connections, fanout, chat, presence, churn, soak };

/** The plan of a named scenario. */
export function planScenario(name: ScenarioName, ...args: Parameters<ScenarioFactory>): ReturnType<ScenarioFactory> {
  return factories[name](...args);
}
