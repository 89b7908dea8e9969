/**
 * The supervisor's one decision per tick: start a node, drain one, or hold.
 * It follows the leader's advice (the HPA rule and its stabilization window
 * live in src/monitor; they are not repeated here) and adds only what a
 * supervisor owns: the node count it runs, one step at a time, cooldowns
 * between steps, and scalingMinNodes/scalingMaxNodes as hard bounds. Pure.
 */

/** What `GET /cluster/scaling` says, the parts the supervisor reads. */
export interface Advice {
  desired: number;
  /** Nodes the advisor counted (draining ones left out). */
  current: number;
  reason: string;
}

/** Why a step was taken: the label of the events counter. */
type StepCause = 'advice' | 'min-nodes' | 'max-nodes';

export type Decision = { action: 'up' | 'down'; cause: StepCause; reason: string } | { action: 'hold'; reason: string };

export interface DecisionInput {
  /** Nodes that serve or are about to (ready, starting, restarting); draining ones not. */
  running: number;
  /** A step or a restart under way (a node starting, draining or waiting to restart): hold until it is done. */
  busy: string | null;
  advice: Advice | null;
  now: number;
  /** When the last step completed (ms, same clock as now); -Infinity before the first. */
  lastStepAt: number;
}

export interface DecisionSettings {
  minNodes: number;
  maxNodes: number;
  upCooldownMs: number;
  downCooldownMs: number;
}

export function decideStep(input: DecisionInput, settings: DecisionSettings): Decision {
  const { running, busy, advice, now, lastStepAt } = input;
  const { minNodes, maxNodes } = settings;
  if (busy !== null) return { action: 'hold', reason: `waiting: ${busy}` };
  // The bounds hold whatever the advice says, and without one.
  if (running < minNodes) return { action: 'up', cause: 'min-nodes', reason: `${running} nodes, below scalingMinNodes ${minNodes}` };
  if (running > maxNodes) return { action: 'down', cause: 'max-nodes', reason: `${running} nodes, above scalingMaxNodes ${maxNodes}` };
  if (advice === null) return { action: 'hold', reason: 'no scaling advice (no node answered GET /cluster/scaling)' };
  // Advice computed before the last step's node was counted (or while a dead one still is) would
  // repeat a step already taken: wait for the heartbeats to catch up.
  if (advice.current !== running)
    return { action: 'hold', reason: `advice counts ${advice.current} nodes, ${running} running: waiting for heartbeats to catch up` };
  const target = Math.min(maxNodes, Math.max(minNodes, advice.desired));
  if (target === running) return { action: 'hold', reason: `at the advice (${advice.reason})` };
  const up = target > running;
  const cooldown = up ? settings.upCooldownMs : settings.downCooldownMs;
  const left = lastStepAt + cooldown - now;
  if (left > 0) return { action: 'hold', reason: `${up ? 'scale-up' : 'scale-down'} cooldown: ${Math.ceil(left / 1000)} s left (${advice.reason})` };
  return { action: up ? 'up' : 'down', cause: 'advice', reason: `${running} → ${running + (up ? 1 : -1)} of ${target}: ${advice.reason}` };
}
