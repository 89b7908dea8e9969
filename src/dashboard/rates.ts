import { metrics } from '../metrics/index.js';

/** What this node did since the last look: message rates and publish-to-write latency. */
export interface NodeActivity {
  messagesInPerSec: number;
  messagesOutPerSec: number;
  publishesPerSec: number;
  /** Publish-to-write latency over the interval, in ms (bucket upper bounds); null without publishes. */
  publishToWriteP50Ms: number | null;
  publishToWriteP99Ms: number | null;
}

interface Totals {
  at: number;
  messagesIn: number;
  messagesOut: number;
  publishes: number;
  /** Cumulative count per histogram bucket, in bucket order (le ascending, +Inf last). */
  buckets: Array<{ le: number; count: number }>;
}

/**
 * Turns the node's cumulative counters into per-interval figures, the same
 * way the monitor turns event-loop utilization into a per-interval value:
 * a total since start would hide a node that just got busy.
 */
export class ActivityMeter {
  private last: Totals | null = null;
  private latest: NodeActivity = { messagesInPerSec: 0, messagesOutPerSec: 0, publishesPerSec: 0, publishToWriteP50Ms: null, publishToWriteP99Ms: null };

  /** Take a new reading; the figures cover the time since the previous one. */
  async sample(now = Date.now()): Promise<NodeActivity> {
    const totals = await readTotals(now);
    const last = this.last;
    this.last = totals;
    if (last === null || totals.at <= last.at) return this.latest;
    const seconds = (totals.at - last.at) / 1000;
    const deltas = totals.buckets.map((b, i) => ({ le: b.le, count: b.count - (last.buckets[i]?.count ?? 0) }));
    this.latest = {
      messagesInPerSec: round((totals.messagesIn - last.messagesIn) / seconds),
      messagesOutPerSec: round((totals.messagesOut - last.messagesOut) / seconds),
      publishesPerSec: round((totals.publishes - last.publishes) / seconds),
      publishToWriteP50Ms: quantileMs(deltas, 0.5),
      publishToWriteP99Ms: quantileMs(deltas, 0.99),
    };
    return this.latest;
  }
}

async function readTotals(at: number): Promise<Totals> {
  const [messagesIn, messagesOut, publishes, histogram] = await Promise.all([
    metrics.messagesIn.get(),
    metrics.messagesOut.get(),
    metrics.publishes.get(),
    metrics.publishToWrite.get(),
  ]);
  const sum = (values: ReadonlyArray<{ value: number }>): number => values.reduce((total, v) => total + v.value, 0);
  const buckets = histogram.values
    .filter((v) => v.metricName === 'switchboard_publish_to_write_seconds_bucket')
    .map((v) => ({ le: v.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(v.labels.le), count: v.value }))
    .sort((a, b) => a.le - b.le);
  return { at, messagesIn: sum(messagesIn.values), messagesOut: sum(messagesOut.values), publishes: sum(publishes.values), buckets };
}

/** The upper bound (ms) of the bucket holding quantile q; the largest finite bound when it lies beyond them. */
function quantileMs(cumulative: ReadonlyArray<{ le: number; count: number }>, q: number): number | null {
  const total = cumulative.at(-1)?.count ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  const finite = cumulative.filter((b) => Number.isFinite(b.le));
  for (const bucket of finite) if (bucket.count >= rank) return round(bucket.le * 1000);
  return finite.length === 0 ? null : round((finite.at(-1) as { le: number }).le * 1000);
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
