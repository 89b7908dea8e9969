import type { ServerResponse } from 'node:http';
import type { Logger } from '../util/logger.js';
import { ActivityMeter } from './rates.js';
import { scanChannels, summarizeApps, type DashboardSources, type Snapshot, type TopChannel } from './snapshot.js';

/** One point of the charts: per node the numbers it reported, plus this node's activity. */
export interface SeriesPoint {
  at: number;
  nodes: Record<string, Record<string, number>>;
  messagesInPerSec: number;
  messagesOutPerSec: number;
  publishToWriteP99Ms: number | null;
}

/** Ten minutes at one point a second: the monitor's history length. */
const HISTORY_POINTS = 600;
/** Channel scans ask every node, so they run every few ticks, and only while someone watches. */
const SCAN_EVERY_TICKS = 5;

/**
 * The live feed behind the page: one timer for all viewers, a snapshot per
 * tick written to every viewer as a Server-Sent Event, and the chart history
 * so that a page opened late starts with the last ten minutes.
 */
export class DashboardFeed {
  private readonly viewers = new Set<ServerResponse>();
  private readonly history: SeriesPoint[] = [];
  private readonly meter = new ActivityMeter();
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private ticks = 0;
  private top: TopChannel[] = [];
  private channelsByApp = new Map<string, number>();
  private latest: Snapshot | null = null;

  constructor(
    private readonly sources: DashboardSources,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const res of this.viewers) res.end();
    this.viewers.clear();
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  /** Start streaming to a viewer: the history, the latest snapshot, then one snapshot per tick. */
  add(res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\n\n`);
    this.viewers.add(res);
    res.on('close', () => this.viewers.delete(res));
    write(res, 'history', this.history);
    if (this.latest !== null) write(res, 'snapshot', this.latest);
    // A new viewer wants the channel lists now, not in up to five ticks.
    this.ticks = 0;
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const activity = await this.meter.sample();
      if (this.viewers.size > 0 && this.ticks++ % SCAN_EVERY_TICKS === 0) {
        try {
          ({ top: this.top, channelsByApp: this.channelsByApp } = await scanChannels(this.sources));
        } catch (err) {
          this.log.debug({ err }, 'dashboard channel scan failed; showing the previous one');
        }
      }
      const cluster = this.sources.cluster();
      const snapshot: Snapshot = {
        at: Date.now(),
        cluster,
        activity,
        alerts: this.sources.alerts?.() ?? [],
        scaling: this.sources.scaling?.() ?? null,
        apps: summarizeApps(this.sources, this.channelsByApp),
        topChannels: this.top,
      };
      this.latest = snapshot;
      const point: SeriesPoint = {
        at: snapshot.at,
        nodes: Object.fromEntries(cluster.nodes.map((n) => [n.id, numbersOf(n.load)])),
        messagesInPerSec: activity.messagesInPerSec,
        messagesOutPerSec: activity.messagesOutPerSec,
        publishToWriteP99Ms: activity.publishToWriteP99Ms,
      };
      this.history.push(point);
      if (this.history.length > HISTORY_POINTS) this.history.shift();
      for (const res of this.viewers) {
        write(res, 'snapshot', snapshot);
        write(res, 'point', point);
      }
    } catch (err) {
      this.log.warn({ err }, 'dashboard tick failed');
    } finally {
      this.ticking = false;
    }
  }
}

/** A slow viewer misses ticks rather than growing this node's memory: the next snapshot replaces the missed one. */
function write(res: ServerResponse, event: string, data: unknown): void {
  if (res.writableNeedDrain || res.destroyed) return;
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function numbersOf(load: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(load)) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  return out;
}
