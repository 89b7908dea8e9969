import { availableParallelism } from 'node:os';
import { Option, type Command } from 'commander';
import { DRIVER_NAMES, type DriverName } from './drivers/types.js';
import { parseDuration } from './duration.js';
import { SwitchboardBenchUsageError } from './errors.js';
import type { LoadPattern } from './patterns.js';
import type { RunOptions } from './run.js';
import type { ScenarioName } from './scenarios/types.js';
import { MAX_PUBLISHER_CONNECTIONS } from './sequence-tracker.js';
import { parseThreshold } from './thresholds.js';

/** Raw flag values as commander hands them over. */
export interface RunFlags {
  url: string;
  httpUrl?: string;
  metricsUrl?: string;
  metrics: boolean;
  appId: string;
  key: string;
  secret: string;
  driver: string;
  subscribers: string;
  channels: string;
  connections: string;
  rooms: string;
  roomSize: string;
  members: string;
  hold: string;
  churnRate: string;
  pattern: string;
  rate: string;
  from?: string;
  to?: string;
  steps?: string;
  peak?: string;
  every: string;
  spikeLength: string;
  amplitude?: string;
  period: string;
  duration: string;
  findMax?: boolean;
  stepFactor: string;
  maxSteps: string;
  threshold: string[];
  workers: string;
  genCpus?: string;
  serverPid?: string;
  sourceIps?: string;
  connectRate: string;
  concurrency: string;
  timeout: string;
  drain: string;
  warmup: string;
  payloadBytes: string;
  maxSockets: string;
  out?: string;
  label?: string;
  quiet?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Add the flags shared by every scenario (and by `compare`). */
export function addRunFlags(command: Command, withTarget = true): Command {
  if (withTarget) {
    command
      .option('--url <ws-url>', 'WebSocket URL of the target', 'ws://127.0.0.1:6001')
      .option('--http-url <url>', 'HTTP base URL of the publish API and /metrics (default: from --url)')
      .addOption(new Option('--driver <name>', 'protocol').choices(DRIVER_NAMES as string[]).default('pusher'))
      .option('--server-pid <pid>', 'sample this process’s CPU and RSS from /proc');
  }
  return command
    .option('--metrics-url <url>', 'Prometheus endpoint to sample (default: <http-url>/metrics for the pusher driver)')
    .option('--no-metrics', 'do not sample /metrics')
    .option('--app-id <id>', 'Pusher app id', 'app-id')
    .option('--key <key>', 'Pusher app key', 'app-key')
    .option('--secret <secret>', 'Pusher app secret', 'app-secret')
    .option('--subscribers <n>', 'fanout/soak: subscribing clients', '100')
    .option('--channels <n>', 'fanout/soak/presence/churn: channels', '1')
    .option('--connections <n>', 'connections: clients to open', '1000')
    .option('--rooms <n>', 'chat: rooms', '10')
    .option('--room-size <n>', 'chat: members per room', '10')
    .option('--members <n>', 'presence: stable members per channel', '10')
    .option('--hold <duration>', 'presence/churn/soak: how long a churning client stays', '500ms')
    .option('--churn-rate <n>', 'soak: churn cycles per second', '5')
    .addOption(new Option('--pattern <kind>', 'load pattern').choices(['constant', 'ramp', 'steps', 'spike', 'wave']).default('constant'))
    .option('--rate <n>', 'constant rate; base of spike; mean of wave (per second)', '100')
    .option('--from <n>', 'ramp: start rate')
    .option('--to <n>', 'ramp: end rate')
    .option('--steps <list>', 'steps: comma-separated rates, each for an equal share of --duration')
    .option('--peak <n>', 'spike: burst rate')
    .option('--every <duration>', 'spike: burst period', '10s')
    .option('--spike-length <duration>', 'spike: burst length', '1s')
    .option('--amplitude <n>', 'wave: amplitude around --rate')
    .option('--period <duration>', 'wave: period', '10s')
    .option('--duration <duration>', 'measured time (per step under --find-max)', '30s')
    .option('--find-max', 'raise the rate step by step until a threshold fails; report the last good step')
    .option('--step-factor <x>', 'find-max: rate multiplier per step', '1.5')
    .option('--max-steps <n>', 'find-max: most steps', '12')
    .option('--threshold <expr>', 'pass/fail rule, repeatable: p99<50ms, loss=0, errors<0.1%', collect, [])
    .option('--workers <n>', 'generator worker processes (0 = in this process)', String(availableParallelism()))
    .option('--gen-cpus <list>', 'pin generator workers with taskset, e.g. 1')
    .option('--source-ips <list>', 'loopback source addresses to spread clients over (auto past 25000 connections)')
    .option('--connect-rate <n>', 'clients opened per second before the measured phase', '500')
    .option('--concurrency <n>', 'handshakes in flight', '100')
    .option('--timeout <duration>', 'connect/subscribe timeout', '10s')
    .option('--drain <duration>', 'longest wait for late deliveries after a phase', '5s')
    .option('--warmup <duration>', 'unreported load (the first rate, at most 50/s) before measuring; 0 to skip', '3s')
    .option('--payload-bytes <n>', 'pad every message to this size', '0')
    .option('--max-sockets <n>', 'pusher: HTTP keep-alive sockets of the publisher', '16')
    .option('--out <file>', 'write the results JSON here')
    .option('--label <text>', 'name of this run in reports')
    .option('--quiet', 'no live progress');
}

function int(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new SwitchboardBenchUsageError(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
  return value;
}

function num(name: string, text: string | undefined, min = 0): number {
  const value = Number(text);
  if (text === undefined || !Number.isFinite(value) || value < min)
    throw new SwitchboardBenchUsageError(`--${name} must be a number ≥ ${min}, got "${text ?? ''}"`);
  return value;
}

function duration(name: string, text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new SwitchboardBenchUsageError(`--${name}: ${(err as Error).message}`);
  }
}

/** The load pattern the flags describe. */
function patternFromFlags(f: RunFlags): LoadPattern {
  switch (f.pattern) {
    case 'constant':
      return { kind: 'constant', rate: num('rate', f.rate) };
    case 'ramp':
      return { kind: 'ramp', from: num('from', f.from), to: num('to', f.to) };
    case 'steps': {
      if (f.steps === undefined) throw new SwitchboardBenchUsageError('--pattern steps needs --steps, e.g. 10,50,100');
      return { kind: 'steps', rates: f.steps.split(',').map((s) => num('steps', s.trim())) };
    }
    case 'spike':
      return {
        kind: 'spike',
        base: num('rate', f.rate),
        peak: num('peak', f.peak),
        everyMs: duration('every', f.every),
        lengthMs: duration('spike-length', f.spikeLength),
      };
    case 'wave':
      return { kind: 'wave', mean: num('rate', f.rate), amplitude: num('amplitude', f.amplitude), periodMs: duration('period', f.period) };
    default:
      throw new SwitchboardBenchUsageError(`unknown --pattern ${f.pattern}`);
  }
}

const LOOPBACK = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
// Each source address can hold about this many connections to one server port (the ephemeral range).
const CONNECTIONS_PER_SOURCE = 25_000;

/** Loopback source addresses: given, or enough 127.0.0.x to stay inside the ephemeral port range. */
function sourceAddresses(list: string | undefined, clients: number): string[] {
  if (list !== undefined) {
    const addresses = list
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    for (const a of addresses) if (!LOOPBACK.test(a)) throw new SwitchboardBenchUsageError(`--source-ips: ${a} is not a 127.0.0.0/8 address`);
    return addresses;
  }
  if (clients <= CONNECTIONS_PER_SOURCE) return [];
  return Array.from({ length: Math.ceil(clients / CONNECTIONS_PER_SOURCE) }, (_, i) => `127.0.0.${i + 1}`);
}

/** Turn flags into run options; throws SwitchboardBenchUsageError with the flag at fault. */
export function runOptionsFromFlags(scenario: ScenarioName, f: RunFlags, command: string[]): RunOptions {
  if (!(DRIVER_NAMES as readonly string[]).includes(f.driver)) throw new SwitchboardBenchUsageError(`--driver must be one of ${DRIVER_NAMES.join(', ')}`);
  const driver = f.driver as DriverName;
  let url: URL;
  try {
    url = new URL(f.url);
  } catch {
    throw new SwitchboardBenchUsageError(`--url "${f.url}" is not a URL (e.g. ws://127.0.0.1:6001)`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new SwitchboardBenchUsageError(`--url must start with ws:// or wss://, got ${f.url}`);
  const sizes = {
    connections: int('connections', f.connections, 1, 200_000),
    subscribers: int('subscribers', f.subscribers, 0, 200_000),
    channels: int('channels', f.channels, 1, 100_000),
    rooms: int('rooms', f.rooms, 1, 10_000),
    roomSize: int('room-size', f.roomSize, 2, 1000),
    members: int('members', f.members, 1, 10_000),
    holdMs: duration('hold', f.hold),
    churnRate: num('churn-rate', f.churnRate),
  };
  const clients =
    scenario === 'connections'
      ? sizes.connections
      : scenario === 'chat'
        ? sizes.rooms * sizes.roomSize
        : scenario === 'presence'
          ? sizes.members * sizes.channels
          : sizes.subscribers;
  const thresholds = f.threshold.map((t) => {
    try {
      return parseThreshold(t);
    } catch (err) {
      throw new SwitchboardBenchUsageError((err as Error).message);
    }
  });
  if (f.findMax && thresholds.length === 0) thresholds.push(parseThreshold('p99<50ms'), parseThreshold('loss=0'));
  const httpUrl = f.httpUrl ?? `${url.protocol === 'wss:' ? 'https' : 'http'}://${url.host}`;
  const metricsUrl = !f.metrics ? undefined : (f.metricsUrl ?? (driver === 'pusher' ? `${httpUrl.replace(/\/+$/, '')}/metrics` : undefined));
  return {
    scenario,
    driver,
    target: { url: f.url, httpUrl, appId: f.appId, key: f.key, secret: f.secret },
    sizes,
    pattern: patternFromFlags(f),
    durationMs: duration('duration', f.duration),
    ...(f.findMax ? { findMax: { factor: num('step-factor', f.stepFactor, 1.01), maxSteps: int('max-steps', f.maxSteps, 1, 50) } } : {}),
    thresholds,
    workers: int('workers', f.workers, 0, 64),
    ...(f.genCpus !== undefined ? { generatorCpus: f.genCpus } : {}),
    ...(f.serverPid !== undefined ? { serverPid: int('server-pid', f.serverPid, 1, 2 ** 31) } : {}),
    ...(metricsUrl !== undefined ? { metricsUrl } : {}),
    sourceAddresses: sourceAddresses(f.sourceIps, clients),
    connectRate: num('connect-rate', f.connectRate, 1),
    connectConcurrency: int('concurrency', f.concurrency, 1, 10_000),
    timeoutMs: duration('timeout', f.timeout),
    drainMs: duration('drain', f.drain),
    warmupMs: duration('warmup', f.warmup),
    payloadBytes: int('payload-bytes', f.payloadBytes, 0, 60_000),
    maxSockets: int('max-sockets', f.maxSockets, 1, MAX_PUBLISHER_CONNECTIONS),
    ...(f.label !== undefined ? { label: f.label } : {}),
    command,
  };
}
