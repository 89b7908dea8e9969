import type { Redis } from 'ioredis';
import { Backoff } from '../../adapters/backoff.js';
import { Wakeup } from './wakeup.js';

/** An idle endpoint consumer as the doorbell sees it. */
export interface DoorbellWaiter {
  readonly stream: string;
  /** Set while idle: the group's last-delivered id (entries after it are new); null otherwise. */
  idleAfter: string | null;
  readonly wakeup: Wakeup;
}

/** How long one XREAD blocks; a waiter that just went idle joins the next one. */
const BLOCK_MS = 1000;
/** How long the loop sleeps when nobody waits (a waiter going idle pokes it sooner). */
const IDLE_MS = 5000;

/**
 * One blocking XREAD over every idle consumer's stream, from its
 * last-delivered id, on a connection of its own: it returns as soon as any
 * node adds to one of them, and rings that consumer. One connection per node
 * for all endpoints, instead of one blocked per endpoint or polling.
 */
export class StreamDoorbell {
  private readonly wakeup = new Wakeup();
  private loop: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly client: Redis,
    private readonly waiters: () => Iterable<DoorbellWaiter>,
    private readonly failed: (err: unknown) => void,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** A waiter went idle: read again with it included. */
  poke(): void {
    this.wakeup.ring();
  }

  /** Stop; the connection is dropped rather than waited for (it may sit in a blocking read). */
  close(): void {
    this.closed = true;
    this.client.disconnect();
    this.wakeup.ring();
  }

  private async run(): Promise<void> {
    const backoff = new Backoff(100, 2000);
    while (!this.closed) {
      const idle = [...this.waiters()].filter((w) => w.idleAfter !== null);
      if (idle.length === 0) {
        await this.wakeup.wait(IDLE_MS);
        continue;
      }
      try {
        const args = ['BLOCK', String(BLOCK_MS), 'STREAMS', ...idle.map((w) => w.stream), ...idle.map((w) => w.idleAfter!)];
        const reply = await this.client.call('XREAD', args);
        backoff.reset();
        if (!Array.isArray(reply)) continue;
        for (const stream of reply) {
          if (!Array.isArray(stream)) continue;
          const waiter = idle.find((w) => w.stream === String(stream[0]));
          if (waiter === undefined) continue;
          waiter.idleAfter = null;
          waiter.wakeup.ring();
        }
      } catch (err) {
        if (this.closed) return;
        this.failed(err);
        await this.wakeup.wait(backoff.next());
      }
    }
  }
}
