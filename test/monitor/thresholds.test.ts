import { describe, expect, it } from 'vitest';
import { SignalThreshold } from '../../src/monitor/thresholds.js';
import { RingHistory } from '../../src/monitor/history.js';
import { connectionLimit, readCgroupMemoryLimit, readOpenFileLimit } from '../../src/monitor/limits.js';

const spec = { warn: 100, critical: 500, hysteresis: 0.1, minDurationMs: 3000 };

describe('SignalThreshold', () => {
  it('changes level only after the value has pointed at it for the minimum duration', () => {
    const t = new SignalThreshold(spec);
    expect(t.update(600, 0)).toBeNull();
    expect(t.update(600, 2999)).toBeNull();
    expect(t.level).toBe('ok');
    expect(t.update(600, 3000)).toEqual({ from: 'ok', to: 'critical', value: 600, threshold: 500 });
    expect(t.level).toBe('critical');
  });

  it('restarts the duration when the value comes back before it has passed (no flapping)', () => {
    const t = new SignalThreshold(spec);
    t.update(150, 0);
    t.update(50, 2000); // back under: the pending warn is forgotten
    expect(t.update(150, 3000)).toBeNull();
    expect(t.update(150, 5999)).toBeNull();
    expect(t.update(150, 6000)?.to).toBe('warn');
  });

  it('escalates warn → critical counting from when the value first rose (same direction)', () => {
    const t = new SignalThreshold(spec);
    t.update(150, 0);
    t.update(700, 1000);
    expect(t.update(700, 3000)).toMatchObject({ from: 'ok', to: 'critical' });
  });

  it('leaves critical only under the warn threshold, and clears warn only under warn × (1 − hysteresis)', () => {
    const t = new SignalThreshold({ ...spec, minDurationMs: 0 });
    expect(t.update(600, 0)?.to).toBe('critical');
    // Between warn and critical: stays critical (admission stays closed there).
    expect(t.update(300, 1)).toBeNull();
    expect(t.level).toBe('critical');
    expect(t.update(99, 2)).toMatchObject({ from: 'critical', to: 'warn', threshold: 100 });
    // 95 is within the 10% hysteresis under warn: still warn.
    expect(t.update(95, 3)).toBeNull();
    expect(t.level).toBe('warn');
    expect(t.update(89, 4)).toMatchObject({ from: 'warn', to: 'ok' });
  });

  it('reads a value that is not a number as ok', () => {
    const t = new SignalThreshold({ ...spec, minDurationMs: 0 });
    t.update(600, 0);
    expect(t.update(Number.NaN, 1)?.to).toBe('ok');
  });
});

describe('RingHistory', () => {
  it('keeps the newest items up to its capacity, oldest first', () => {
    const ring = new RingHistory<number>(3);
    for (let i = 1; i <= 5; i++) ring.push(i);
    expect(ring.toArray()).toEqual([3, 4, 5]);
    expect(ring.latest()).toBe(5);
    expect(ring.size).toBe(3);
  });
});

describe('connection limit', () => {
  const limits = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            20000                20000                files
`;
  it('reads the soft open-file limit from /proc/self/limits text', () => {
    expect(readOpenFileLimit(limits)).toBe(20000);
    expect(readOpenFileLimit(limits.replace('20000                20000', 'unlimited            unlimited'))).toBeNull();
    expect(readOpenFileLimit('garbage')).toBeNull();
  });

  it("reads this process's real limit on Linux", () => {
    if (process.platform !== 'linux') return;
    expect(readOpenFileLimit()).toBeGreaterThan(0);
  });

  it('is maxConnections when set, else the open-file limit minus the headroom', () => {
    expect(connectionLimit({ maxConnections: 50, fdHeadroom: 256 }, 20000)).toMatchObject({ max: 50, source: 'maxConnections' });
    expect(connectionLimit({ maxConnections: 0, fdHeadroom: 256 }, 20000)).toMatchObject({ max: 19744, source: 'open-file limit' });
    expect(connectionLimit({ maxConnections: 0, fdHeadroom: 256 }, 100)).toMatchObject({ max: 1 });
    expect(connectionLimit({ maxConnections: 0, fdHeadroom: 256 }, null)).toMatchObject({ max: 0, source: 'none' });
  });

  it('reads the cgroup v2 limit, else v1, and no limit as null', () => {
    const files = (map: Record<string, string>) => (path: string) => map[path] ?? null;
    expect(readCgroupMemoryLimit(files({ '/sys/fs/cgroup/memory.max': '536870912\n' }))).toBe(536870912);
    expect(readCgroupMemoryLimit(files({ '/sys/fs/cgroup/memory.max': 'max\n' }))).toBeNull();
    expect(readCgroupMemoryLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '1073741824' }))).toBe(1073741824);
    expect(readCgroupMemoryLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712' }))).toBeNull();
    expect(readCgroupMemoryLimit(files({}))).toBeNull();
  });
});
