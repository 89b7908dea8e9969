import { LocalBus } from './local.js';
import { BrokerLink, type BrokerLinkOptions, type BrokerSession, type SessionSink } from './link.js';
import type { LeaseHolder } from './types.js';

/**
 * `--workers` (and `switchboard cluster`) without Redis or NATS: nodes reach
 * each other through their parent process (the node:cluster primary, or the
 * supervisor that forked them), which runs a LocalBus and relays. Messages on
 * the IPC channel carry `sb: 'ipc'` so they never mix with other uses of it.
 */

/**
 * Env var that tells a forked (non-node:cluster) node to relay through its
 * parent: set by the supervisor for `adapter: local` (not SWITCHBOARD_*: it is
 * not a config option a user sets).
 */
export const IPC_RELAY_ENV = 'SB_IPC_RELAY';

/** Whether this process should reach its siblings through its parent's IpcHub. */
export function relaysThroughParent(): boolean {
  return process.env[IPC_RELAY_ENV] === '1' && typeof process.send === 'function';
}

/**
 * One child on the hub's side: a node:cluster Worker fits as is; a
 * child_process.fork() child is wrapped (its `connected` is a property).
 */
export interface IpcPeer {
  send(message: unknown): unknown;
  isConnected(): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'exit', listener: () => void): unknown;
}

type WorkerToPrimary =
  | { sb: 'ipc'; op: 'pub'; batch: Array<[string, string]> }
  | { sb: 'ipc'; op: 'sub'; subject: string; id: number }
  | { sb: 'ipc'; op: 'unsub'; subject: string }
  | { sb: 'ipc'; op: 'acquire'; key: string; owner: string; ttlMs: number; id: number }
  | { sb: 'ipc'; op: 'release'; key: string; owner: string; id: number };

type PrimaryToWorker = { sb: 'ipc'; op: 'msgs'; batch: Array<[string, string]> } | { sb: 'ipc'; op: 'reply'; id: number; holder?: LeaseHolder | null };

function isIpcMessage(message: unknown): message is { sb: 'ipc'; op: string } {
  return typeof message === 'object' && message !== null && (message as { sb?: unknown }).sb === 'ipc';
}

/** The parent's side: one bus, one relay per child. Call `attach` for each forked child. */
export class IpcHub {
  private readonly bus = new LocalBus();

  attach(worker: IpcPeer): void {
    const outbox: Array<[string, string]> = [];
    let scheduled = false;
    const flush = (): void => {
      scheduled = false;
      if (outbox.length === 0 || !worker.isConnected()) {
        outbox.length = 0;
        return;
      }
      const message: PrimaryToWorker = { sb: 'ipc', op: 'msgs', batch: outbox.splice(0) };
      worker.send(message);
    };
    // The worker's sink on the bus: deliveries are batched into one IPC message per tick.
    const sink: SessionSink = {
      deliver: (subject, payload) => {
        outbox.push([subject, payload]);
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      },
      lost: () => {},
      refused: () => {},
    };
    const subjects = new Set<string>();
    const reply = (message: PrimaryToWorker): void => {
      if (worker.isConnected()) worker.send(message);
    };
    worker.on('message', (message: unknown) => {
      if (!isIpcMessage(message)) return;
      const m = message as WorkerToPrimary;
      switch (m.op) {
        case 'pub':
          this.bus.publish(m.batch);
          return;
        case 'sub':
          subjects.add(m.subject);
          this.bus.subscribe(m.subject, sink);
          reply({ sb: 'ipc', op: 'reply', id: m.id });
          return;
        case 'unsub':
          subjects.delete(m.subject);
          this.bus.unsubscribe(m.subject, sink);
          return;
        case 'acquire':
          reply({ sb: 'ipc', op: 'reply', id: m.id, holder: this.bus.leases.acquire(m.key, m.owner, m.ttlMs) });
          return;
        case 'release':
          this.bus.leases.release(m.key, m.owner);
          reply({ sb: 'ipc', op: 'reply', id: m.id });
          return;
      }
    });
    worker.on('exit', () => {
      for (const subject of subjects) this.bus.unsubscribe(subject, sink);
      subjects.clear();
    });
  }
}

/** The worker's side: a link whose broker is the primary. */
export class IpcAdapter extends BrokerLink {
  readonly kind = 'ipc' as const;

  constructor(options: BrokerLinkOptions = { prefix: 'switchboard' }) {
    super(options);
  }

  protected async openSession(sink: SessionSink): Promise<BrokerSession> {
    if (typeof process.send !== 'function' || !process.connected) throw new Error('no IPC channel to a primary process');
    return new IpcSession(sink);
  }
}

class IpcSession implements BrokerSession {
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: Extract<PrimaryToWorker, { op: 'reply' }>) => void>();
  private readonly onMessage = (message: unknown): void => {
    if (!isIpcMessage(message)) return;
    const m = message as PrimaryToWorker;
    if (m.op === 'msgs') {
      for (const [subject, payload] of m.batch) this.sink.deliver(subject, payload);
    } else {
      const resolve = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      resolve?.(m);
    }
  };
  private readonly onDisconnect = (): void => this.sink.lost('IPC channel to the primary closed');

  constructor(private readonly sink: SessionSink) {
    process.on('message', this.onMessage);
    process.on('disconnect', this.onDisconnect);
  }

  private send(message: WorkerToPrimary): void {
    if (process.connected) process.send!(message);
  }

  private ask(build: (id: number) => WorkerToPrimary): Promise<Extract<PrimaryToWorker, { op: 'reply' }>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error('primary did not answer'));
      }, 5000);
      timer.unref();
      this.waiting.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.send(build(id));
    });
  }

  publishBatch(batch: ReadonlyArray<readonly [string, string]>): void {
    this.send({ sb: 'ipc', op: 'pub', batch: batch as Array<[string, string]> });
  }

  async subscribe(subject: string): Promise<void> {
    await this.ask((id) => ({ sb: 'ipc', op: 'sub', subject, id }));
  }

  unsubscribe(subject: string): void {
    this.send({ sb: 'ipc', op: 'unsub', subject });
  }

  async acquire(key: string, owner: string, ttlMs: number): Promise<LeaseHolder | null> {
    return (await this.ask((id) => ({ sb: 'ipc', op: 'acquire', key, owner, ttlMs, id }))).holder ?? null;
  }

  async release(key: string, owner: string): Promise<void> {
    await this.ask((id) => ({ sb: 'ipc', op: 'release', key, owner, id }));
  }

  async close(): Promise<void> {
    process.off('message', this.onMessage);
    process.off('disconnect', this.onDisconnect);
    for (const resolve of this.waiting.values()) resolve({ sb: 'ipc', op: 'reply', id: 0, holder: null });
    this.waiting.clear();
  }
}
