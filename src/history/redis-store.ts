import { Redis, type Result } from 'ioredis';
import { escapeToken } from '../cluster/subjects.js';
import type { Logger } from '../util/logger.js';
import { newEpoch } from './epoch.js';
import { APPEND_AND_PUBLISH, READ } from './redis-scripts.js';
import type { HistoryRule } from './rules.js';
import type { HistoryRead, HistorySink, HistoryStore, ReadRange, StoredEvent } from './store.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    historyAppend(
      stream: string,
      meta: string,
      pubsub: string,
      jsonHead: string,
      payloadHead: string,
      size: number,
      ttlMs: number,
      metaTtlMs: number,
      epoch: string,
      now: number,
    ): Result<number, Context>;
    historyRead(
      stream: string,
      meta: string,
      epoch: string,
      metaTtlMs: number,
      bound: string,
      count: number,
      direction: 'f' | 'b',
    ): Result<[string, number, Array<[string, string[]]>], Context>;
  }
}

export interface RedisStoreOptions {
  url: string;
  /** The deployment's key prefix (`keyPrefix`). */
  prefix: string;
  metaTtlMs: number;
  logger: Logger;
}

/** A watched channel's live delivery: the last offset handed on, and events waiting while a gap is read. */
interface LiveChannel {
  ready: Promise<void>;
  epoch: string | null;
  last: number;
  /** Set while a gap (a pub/sub message lost, e.g. over a reconnect) is being read from the stream. */
  waiting: LiveMessage[] | null;
}

/**
 * History in Redis Streams, shared by every node: one script assigns the
 * offset, appends (MAXLEN size, PEXPIRE TTL) and publishes the event on the
 * channel's history pub/sub channel, which every node with subscribers of
 * the channel (the publisher too) listens to. So all nodes deliver the
 * channel's events in the one order Redis assigned. It has its own Redis
 * connections, whatever the cluster adapter is (Redis, NATS, IPC).
 */
export class RedisHistoryStore implements HistoryStore {
  readonly kind = 'redis' as const;
  private readonly commands: Redis;
  private readonly subscriber: Redis;
  private readonly live = new Map<string, LiveChannel>();
  private readonly prefix: string;

  constructor(
    private readonly sink: HistorySink,
    private readonly options: RedisStoreOptions,
  ) {
    this.prefix = `${options.prefix}.hist`;
    // Commands fail at once while Redis is away (a publish must not wait unseen); subscriptions are made again on reconnect.
    this.commands = new Redis(options.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    this.commands.defineCommand('historyAppend', { numberOfKeys: 2, lua: APPEND_AND_PUBLISH });
    this.commands.defineCommand('historyRead', { numberOfKeys: 2, lua: READ });
    this.subscriber = new Redis(options.url, { lazyConnect: true, autoResubscribe: true });
    let lostLogged = false;
    for (const client of [this.commands, this.subscriber]) {
      client.on('error', (err: Error) => {
        if (!lostLogged) options.logger.warn({ err: err.message }, 'history redis unreachable (retrying)');
        lostLogged = true;
      });
      client.on('ready', () => {
        if (lostLogged) options.logger.info('history redis reachable again');
        lostLogged = false;
      });
    }
    this.subscriber.on('message', (_channel: string, payload: string) => this.receive(payload));
  }

  /** Connect both connections; rejects when Redis cannot be reached at start. */
  async connect(): Promise<void> {
    await Promise.all([this.commands.connect(), this.subscriber.connect()]);
  }

  private names(appId: string, channel: string): { pubsub: string; stream: string; meta: string } {
    const id = `${escapeToken(appId)}.${escapeToken(channel)}`;
    return { pubsub: `${this.prefix}.${id}`, stream: `${this.prefix}:{${id}}:s`, meta: `${this.prefix}:{${id}}:m` };
  }

  async publish(appId: string, channel: string, rule: HistoryRule, json: string, excludeSocketId: string | undefined): Promise<void> {
    const n = this.names(appId, channel);
    const head = `${appId}\n${channel}\n${excludeSocketId ?? ''}\n`;
    await this.commands.historyAppend(
      n.stream,
      n.meta,
      n.pubsub,
      json.slice(0, -1),
      head,
      rule.size,
      rule.ttlMs,
      Math.max(this.options.metaTtlMs, rule.ttlMs),
      newEpoch(),
      Date.now(),
    );
  }

  async read(appId: string, channel: string, rule: HistoryRule, range: ReadRange): Promise<HistoryRead> {
    const n = this.names(appId, channel);
    const bound = range.direction === 'forward' ? `${range.since + 1}-0` : range.since === 0 ? '-' : `${range.since + 1}-0`;
    const [epoch, offset, entries] = await this.commands.historyRead(
      n.stream,
      n.meta,
      newEpoch(),
      Math.max(this.options.metaTtlMs, rule.ttlMs),
      bound,
      range.limit,
      range.direction === 'forward' ? 'f' : 'b',
    );
    const oldest = Date.now() - rule.ttlMs;
    const events: StoredEvent[] = [];
    for (const [id, fields] of entries) {
      const event = toEvent(id, fields);
      if (event !== null && event.timeMs >= oldest) events.push(event);
    }
    return { position: { epoch, offset: Number(offset) }, events };
  }

  watch(appId: string, channel: string): Promise<void> | null {
    const pubsub = this.names(appId, channel).pubsub;
    const existing = this.live.get(pubsub);
    if (existing !== undefined) return existing.ready;
    const entry: LiveChannel = { ready: Promise.resolve(), epoch: null, last: 0, waiting: null };
    entry.ready = this.subscriber.subscribe(pubsub).then(() => undefined);
    this.live.set(pubsub, entry);
    return entry.ready;
  }

  unwatch(appId: string, channel: string): void {
    const pubsub = this.names(appId, channel).pubsub;
    if (!this.live.delete(pubsub)) return;
    this.subscriber.unsubscribe(pubsub).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.commands.disconnect();
    this.subscriber.disconnect();
  }

  /** `offset \n app \n channel \n excluded socket \n json`, as the script publishes it. */
  private receive(payload: string): void {
    const a = payload.indexOf('\n');
    const b = payload.indexOf('\n', a + 1);
    const c = payload.indexOf('\n', b + 1);
    const d = payload.indexOf('\n', c + 1);
    if (a <= 0 || b === -1 || c === -1 || d === -1) return;
    const message: LiveMessage = {
      offset: Number(payload.slice(0, a)),
      appId: payload.slice(a + 1, b),
      channel: payload.slice(b + 1, c),
      except: payload.slice(c + 1, d) || undefined,
      json: payload.slice(d + 1),
    };
    const entry = this.live.get(this.names(message.appId, message.channel).pubsub);
    if (entry !== undefined && Number.isSafeInteger(message.offset)) this.offer(entry, message);
  }

  private offer(entry: LiveChannel, message: LiveMessage): void {
    if (entry.waiting !== null) entry.waiting.push(message);
    else this.accept(entry, message);
  }

  /** Hand on in offset order; a jump means pub/sub lost messages (a reconnect): read them from the stream first. */
  private accept(entry: LiveChannel, message: LiveMessage): void {
    const epoch = epochOf(message.json);
    // The first event seen, or a new stream: it starts from here.
    if (epoch !== entry.epoch) {
      entry.epoch = epoch;
      entry.last = message.offset - 1;
    }
    if (message.offset <= entry.last) return; // handed on already (read while filling a gap)
    if (message.offset === entry.last + 1) {
      entry.last = message.offset;
      this.sink(message.appId, message.channel, message.offset, message.json, message.except);
      return;
    }
    this.fillGap(entry, message);
  }

  private fillGap(entry: LiveChannel, message: LiveMessage): void {
    const { appId, channel, offset } = message;
    const since = entry.last;
    entry.waiting = [];
    const n = this.names(appId, channel);
    this.commands
      .historyRead(n.stream, n.meta, newEpoch(), this.options.metaTtlMs, `${since + 1}-0`, Math.min(offset - since - 1, 10_000), 'f')
      .then(
        ([, , entries]) => {
          for (const [id, fields] of entries) {
            const event = toEvent(id, fields);
            if (event === null || event.offset >= offset || event.offset <= entry.last) continue;
            entry.last = event.offset;
            // The excluded socket of a lost message is not known: its publisher gets its own event back.
            this.sink(appId, channel, event.offset, event.json, undefined);
          }
        },
        (err: unknown) => this.options.logger.warn({ err, appId, channel }, 'history: could not read events lost on the live link; subscribers see a gap'),
      )
      .finally(() => {
        const waiting = entry.waiting ?? [];
        entry.waiting = null;
        // What could not be read is gone: carry on from the message that showed the gap.
        entry.last = Math.max(entry.last, offset - 1);
        this.accept(entry, message);
        for (const w of waiting) this.offer(entry, w);
      });
  }
}

interface LiveMessage {
  offset: number;
  appId: string;
  channel: string;
  except: string | undefined;
  json: string;
}

function toEvent(id: string, fields: string[]): StoredEvent | null {
  const offset = Number.parseInt(id, 10);
  let json: string | undefined;
  let time = 0;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'j') json = fields[i + 1];
    else if (fields[i] === 't') time = Number(fields[i + 1]);
  }
  return json === undefined || !Number.isSafeInteger(offset) ? null : { offset, json, timeMs: time };
}

/** The epoch the script wrote as the frame's last field. */
function epochOf(json: string): string | null {
  const at = json.lastIndexOf(',"epoch":"');
  return at === -1 ? null : json.slice(at + 10, -2);
}
