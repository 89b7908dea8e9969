import cliProgress from 'cli-progress';
import type { ProgressUpdate } from './run.js';

/** The one-line live status: a redrawn bar on a terminal, plain lines (once a second) otherwise. */
export interface ProgressView {
  update(update: ProgressUpdate): void;
  stop(): void;
}

function describeProgress(u: ProgressUpdate): string {
  const p = u.point;
  const stage = u.stage === 'connecting' ? 'connecting' : `phase ${u.phase}/${u.phaseCount} ${u.stage}${u.rate > 0 ? ` @${u.rate}/s` : ''}`;
  const server =
    p.serverCpuPct !== undefined ? ` srv ${Math.round(p.serverCpuPct)}% ${p.serverRssMiB !== undefined ? `${Math.round(p.serverRssMiB)}MiB` : ''}` : '';
  return `${stage} | conns ${p.connections} | ${p.deliveriesPerSec} deliv/s | p50 ${p.p50Ms}ms p99 ${p.p99Ms}ms max ${p.maxMs}ms | gen ${p.generatorCpuPct}%${server}`;
}

/** A progress view on `stream`; `quiet` shows nothing. */
export function createProgressView(stream: NodeJS.WriteStream, quiet: boolean): ProgressView {
  if (quiet) return { update: () => undefined, stop: () => undefined };
  if (!stream.isTTY) {
    return {
      update: (u) => void stream.write(`[bench] ${describeProgress(u)}\n`),
      stop: () => undefined,
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: '{bar} {percentage}% | {status}', stream, hideCursor: true, clearOnComplete: true, barsize: 20 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(u) {
      const total = Math.max(1, u.phaseMs);
      if (!started) {
        bar.start(total, 0, { status: '' });
        started = true;
      }
      bar.setTotal(total);
      bar.update(u.stage === 'connecting' ? 0 : Math.min(total, u.elapsedMs), { status: describeProgress(u) });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
