/**
 * Entry point of a generator worker process (forked by the orchestrator from the compiled
 * `dist/bench/worker.js`). It runs one Agent and talks to the parent over the IPC channel.
 */
import { Agent } from './agent.js';
import type { AgentCommand } from './messages.js';

// A worker never outlives its run: the parent going away or a day passing ends it.
const MAX_LIFETIME_MS = 24 * 3_600_000;

const send = process.send?.bind(process);
if (send === undefined) {
  console.error('bench worker: must be started by the bench orchestrator (no IPC channel)');
  process.exit(2);
}
const agent = new Agent((event) => send(event));
process.on('message', (command: AgentCommand) => {
  agent.handle(command);
  if (command.type === 'stop') setTimeout(() => process.exit(0), 200).unref();
});
process.on('disconnect', () => process.exit(0));
setTimeout(() => process.exit(0), MAX_LIFETIME_MS).unref();
