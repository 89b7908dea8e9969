import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Agent } from './agent.js';
import type { AgentCommand, AgentEvent } from './messages.js';

/** The orchestrator's handle on one agent, wherever it runs. */
export interface AgentHandle {
  readonly index: number;
  /** The worker's pid, or undefined for the in-process agent. */
  readonly pid: number | undefined;
  send(command: AgentCommand): void;
  close(): Promise<void>;
}

/**
 * The compiled worker entry. Under `tsc` output this file sits next to it; when this module is
 * loaded from source (tests, `tsx`), the build in `dist/` is used.
 */
function workerEntry(): string {
  const beside = fileURLToPath(new URL('./worker.js', import.meta.url));
  if (existsSync(beside)) return beside;
  const built = fileURLToPath(new URL('../../dist/bench/worker.js', import.meta.url));
  if (existsSync(built)) return built;
  throw new Error(`bench worker not found at ${beside} or ${built}: run the build (npm run build) first`);
}

function forkedAgent(index: number, onEvent: (event: AgentEvent) => void, cpus: string | undefined): AgentHandle {
  const entry = workerEntry();
  // taskset pins the worker to the generator's CPUs so it does not steal the server's core.
  const child: ChildProcess = cpus
    ? fork(entry, [], { execPath: 'taskset', execArgv: ['-c', cpus, process.execPath], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    : fork(entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.on('message', (event: AgentEvent) => onEvent(event));
  child.on('exit', (code, signal) => {
    if (code !== 0 && code !== null) onEvent({ type: 'fatal', agentIndex: index, message: `worker ${index} exited with code ${code}` });
    else if (signal !== null && signal !== 'SIGTERM') onEvent({ type: 'fatal', agentIndex: index, message: `worker ${index} killed by ${signal}` });
  });
  return {
    index,
    pid: child.pid,
    send: (command) => {
      if (child.connected) child.send(command);
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        if (child.connected) child.send({ type: 'stop' } satisfies AgentCommand);
        else child.kill('SIGTERM');
      }),
  };
}

function inProcessAgent(onEvent: (event: AgentEvent) => void): AgentHandle {
  // Events go out on a later turn, as they would over IPC, so the orchestrator's code sees one ordering.
  const agent = new Agent((event) => setImmediate(() => onEvent(event)));
  return {
    index: 0,
    pid: undefined,
    send: (command) => agent.handle(command),
    close: async () => agent.handle({ type: 'stop' }),
  };
}

/**
 * Start the generator agents: `workers` forked processes, or one agent in this process when 0.
 * `cpus` (a taskset list such as "1") pins forked workers.
 */
export function startAgents(workers: number, onEvent: (event: AgentEvent) => void, cpus?: string): AgentHandle[] {
  if (workers <= 0) return [inProcessAgent(onEvent)];
  return Array.from({ length: workers }, (_, i) => forkedAgent(i, onEvent, cpus));
}
