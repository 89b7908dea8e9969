/**
 * Pass/fail thresholds in the style of k6: `p99<50ms`, `loss=0`, `errors<0.1%`, `rate>=1000`.
 * A threshold names a metric of the run's totals, a comparison and a value; a `%` value on a
 * count metric compares its share of the total instead of the count.
 */
type ThresholdMetric = 'p50' | 'p90' | 'p95' | 'p99' | 'p999' | 'max' | 'mean' | 'loss' | 'errors' | 'duplicates' | 'outOfOrder' | 'rate';

type Comparator = '<' | '<=' | '=' | '>' | '>=';

export interface Threshold {
  readonly source: string;
  readonly metric: ThresholdMetric;
  readonly comparator: Comparator;
  readonly value: number;
  /** The value is a share of the total (`%`), not an absolute count. */
  readonly percent: boolean;
}

/** The figures a threshold is checked against: latency in ms, counts with their totals. */
export interface ThresholdFacts {
  latency: Record<'p50' | 'p90' | 'p95' | 'p99' | 'p999' | 'max' | 'mean', number>;
  expected: number;
  loss: number;
  errors: number;
  /** What errors are a share of: operations attempted (connections, publishes, joins). */
  attempts: number;
  duplicates: number;
  outOfOrder: number;
  /** The scenario's throughput per second (deliveries/s, or connections/s for `connections`). */
  rate: number;
}

export interface ThresholdResult {
  threshold: string;
  actual: number;
  unit: string;
  pass: boolean;
}

const LATENCY = new Set(['p50', 'p90', 'p95', 'p99', 'p999', 'max', 'mean']);
const COUNTS = new Set(['loss', 'errors', 'duplicates', 'outOfOrder']);
const ALIASES: Record<string, ThresholdMetric> = { 'p99.9': 'p999', out_of_order: 'outOfOrder', ooo: 'outOfOrder', dups: 'duplicates' };

/** Parse one threshold expression; throws an Error with a readable reason. */
export function parseThreshold(source: string): Threshold {
  const match = /^\s*([A-Za-z_][\w.]*)\s*(<=|>=|==|<|>|=)\s*(\d+(?:\.\d+)?)\s*(ms|s|%)?\s*$/.exec(source);
  if (match === null) throw new Error(`threshold "${source}" is not like p99<50ms, loss=0 or errors<0.1%`);
  const [, rawName = '', rawComparator = '', rawValue = '', unit] = match;
  const name = ALIASES[rawName] ?? rawName;
  const comparator = (rawComparator === '==' ? '=' : rawComparator) as Comparator;
  let value = Number(rawValue);
  if (LATENCY.has(name)) {
    if (unit === '%') throw new Error(`threshold "${source}": ${name} is a latency, give it in ms or s`);
    if (unit === 's') value *= 1000;
    return { source, metric: name as ThresholdMetric, comparator, value, percent: false };
  }
  if (COUNTS.has(name)) {
    if (unit === 'ms' || unit === 's') throw new Error(`threshold "${source}": ${name} is a count, give a number or a %`);
    return { source, metric: name as ThresholdMetric, comparator, value, percent: unit === '%' };
  }
  if (name === 'rate') {
    if (unit !== undefined) throw new Error(`threshold "${source}": rate is per second, give a plain number`);
    return { source, metric: 'rate', comparator, value, percent: false };
  }
  throw new Error(`threshold "${source}": unknown metric "${rawName}" (p50 p90 p95 p99 p999 max mean loss errors duplicates outOfOrder rate)`);
}

function compare(actual: number, comparator: Comparator, limit: number): boolean {
  // Shares and latencies are rounded to 3 decimals before comparing, so `loss=0%` means "none".
  const a = Math.round(actual * 1000) / 1000;
  switch (comparator) {
    case '<':
      return a < limit;
    case '<=':
      return a <= limit;
    case '=':
      return a === limit;
    case '>':
      return a > limit;
    case '>=':
      return a >= limit;
  }
}

/** Check every threshold against a run's figures. */
export function evaluateThresholds(thresholds: readonly Threshold[], facts: ThresholdFacts): ThresholdResult[] {
  return thresholds.map((t) => {
    let actual: number;
    let unit = '';
    if (LATENCY.has(t.metric)) {
      actual = facts.latency[t.metric as keyof ThresholdFacts['latency']];
      unit = 'ms';
    } else if (t.metric === 'rate') {
      actual = facts.rate;
      unit = '/s';
    } else {
      const count = t.metric === 'loss' ? facts.loss : t.metric === 'errors' ? facts.errors : t.metric === 'duplicates' ? facts.duplicates : facts.outOfOrder;
      const whole = t.metric === 'errors' ? facts.attempts : facts.expected;
      actual = t.percent ? (whole === 0 ? 0 : (count / whole) * 100) : count;
      unit = t.percent ? '%' : '';
    }
    return { threshold: t.source, actual, unit, pass: compare(actual, t.comparator, t.value) };
  });
}
