import { createHash, randomUUID } from 'node:crypto';
import { connect, type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type GetMessage } from 'amqplib';
import { Backoff } from '../../adapters/backoff.js';
import { errorMessage } from '../../adapters/link.js';
import { redactUrl } from '../../adapters/redis.js';
import { metrics } from '../../metrics/index.js';
import type { Logger } from '../../util/logger.js';
import type { DeadLetter, QueuedBatch, WebhookQueue } from '../types.js';
import { decodeBatch, decodeDeadLetter, encodeBatch, encodeDeadLetter } from './codec.js';
import { LinkLog } from './link-log.js';
import { replayed } from '../batcher.js';

export interface RabbitQueueOptions {
  /** `amqp://` or `amqps://`; a `heartbeat` query parameter is added (10 s) unless given. */
  url: string;
  /** Every queue is named `{keyPrefix}.webhooks.…`. */
  keyPrefix: string;
  logger: Logger;
}

/**
 * The RabbitMQ driver. One durable queue per endpoint declared with
 * `x-single-active-consumer`: every node consumes it, the broker delivers to
 * one of them at a time (prefetch 1, manual ack), and hands the slot to
 * another consumer when the active one's connection goes. Batches are
 * persistent messages published with confirms; dead letters go to a durable,
 * length-bounded queue that listDead reads and puts back (see there).
 */
export function createRabbitQueue(options: RabbitQueueOptions): WebhookQueue {
  return new RabbitQueue(options);
}

/** The queue names a key prefix uses (for tools and tests that clean up). */
export function rabbitQueueNames(keyPrefix: string): { endpoint(endpoint: string): string; dead: string } {
  const base = keyPrefix === '' ? 'webhooks' : `${keyPrefix}.webhooks`;
  return { endpoint: (endpoint) => `${base}.q.${createHash('sha256').update(endpoint).digest('hex').slice(0, 32)}`, dead: `${base}.dead` };
}

/** Dead letters kept; past it the broker drops the oldest (x-overflow drop-head). */
const DEAD_MAX_LENGTH = 10_000;
/** How long an enqueue (or dead-letter) waits for a broker that is down before it rejects. */
const PUBLISH_WAIT_MS = 10_000;
/** How long close() waits for deliveries in flight to finish (and be acknowledged). */
const CLOSE_GRACE_MS = 5000;
const HEARTBEAT_S = 10;
/** Longest a new connection's channels, declarations and consumers may take to set up. */
const SETUP_TIMEOUT_MS = 15_000;

const ENDPOINT_QUEUE_ARGS = { durable: true, arguments: { 'x-single-active-consumer': true } } as const;
const DEAD_QUEUE_ARGS = { durable: true, arguments: { 'x-max-length': DEAD_MAX_LENGTH, 'x-overflow': 'drop-head' } } as const;

/** One connection's worth of channels; a new one after every reconnect. */
interface Session {
  readonly connection: ChannelModel;
  /** Publishes (enqueue, dead letters, replay) with broker confirms. */
  readonly publisher: ConfirmChannel;
  /** Every endpoint's consumer: prefetch 1 applies per consumer. */
  readonly consumer: Channel;
  /** Queues declared on this connection (declaring is idempotent, but costs a round trip). */
  readonly declared: Set<string>;
  /** Endpoints with a consumer on this connection. */
  readonly consuming: Set<string>;
  /** Set once any part of it failed; a session can die before it is handed out. */
  dead: boolean;
}

type LinkState = 'disconnected' | 'connecting' | 'connected' | 'closed';

class RabbitQueue implements WebhookQueue {
  readonly kind = 'rabbitmq' as const;
  private readonly names: ReturnType<typeof rabbitQueueNames>;
  private readonly url: string;
  private state: LinkState = 'disconnected';
  private session: Session | null = null;
  private readonly sessionReady = new Set<() => void>();
  private readonly backoff = new Backoff(200, 5000);
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly endpoints = new Set<string>();
  private readonly known = new Set<string>();
  private deliver: ((batch: QueuedBatch) => Promise<void>) | null = null;
  /** Deliveries running on this node, so depth can count them and close can wait for them. */
  private readonly inFlight = new Set<Promise<void>>();
  /** Per endpoint, the delivery running on this node (any session) and whether it went through. */
  private readonly running = new Map<string, { readonly id: string; readonly done: Promise<boolean> }>();
  /** Every queue this driver has declared, on any connection: each must still be there after a reconnect. */
  private readonly everDeclared = new Set<string>();
  /** Messages the broker returned as unroutable (no such queue), by publish token. */
  private readonly returned = new Set<string>();
  private readonly link: LinkLog;

  constructor(private readonly options: RabbitQueueOptions) {
    if (!/^amqps?:\/\//.test(options.url)) throw new Error(`webhook rabbitmq queue: unsupported URL ${redactUrl(options.url)} (amqp:// or amqps://)`);
    this.names = rabbitQueueNames(options.keyPrefix);
    const url = new URL(options.url);
    if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', String(HEARTBEAT_S));
    this.url = url.toString();
    this.link = new LinkLog(options.logger, 'rabbitmq', redactUrl(options.url));
  }

  async enqueue(batch: QueuedBatch): Promise<void> {
    this.known.add(batch.endpoint);
    await this.publish(this.names.endpoint(batch.endpoint), ENDPOINT_QUEUE_ARGS, encodeBatch(batch), batch.id);
  }

  async start(endpoints: readonly string[], deliver: (batch: QueuedBatch) => Promise<void>): Promise<void> {
    if (this.state === 'closed') throw new Error('webhook queue closed');
    this.deliver = deliver;
    const added = endpoints.filter((e) => !this.endpoints.has(e));
    for (const endpoint of added) {
      this.endpoints.add(endpoint);
      this.known.add(endpoint);
    }
    this.connect();
    const session = this.session;
    if (session !== null) for (const endpoint of added) await this.consume(session, endpoint).catch((err: unknown) => this.lost(session, err));
  }

  async deadLetter(batch: QueuedBatch, reason: string): Promise<void> {
    const letter: DeadLetter = { batch, reason, failedAt: Date.now() };
    await this.publish(this.names.dead, DEAD_QUEUE_ARGS, encodeDeadLetter(letter), batch.id);
  }

  /**
   * Reads the dead-letter queue on a channel of its own with basic.get (no
   * ack), then closes that channel, which puts every message back where it
   * was. A reader running at the same time sees fewer: fine for a CLI list.
   */
  async listDead(limit: number): Promise<DeadLetter[]> {
    if (limit <= 0) return [];
    const letters: DeadLetter[] = [];
    await this.readDead(async (_channel, _message, letter) => {
      if (letter !== null) letters.push(letter);
    });
    return letters.reverse().slice(0, limit);
  }

  /** Republish the chosen dead letters (confirmed) to their endpoint's queue, then ack them off the dead queue; the rest go back. */
  async replay(ids?: readonly string[]): Promise<number> {
    const wanted = ids === undefined ? null : new Set(ids);
    let moved = 0;
    await this.readDead(async (channel, message, letter) => {
      if (letter === null || (wanted !== null && !wanted.has(letter.batch.id))) return;
      await this.enqueue(replayed(letter.batch));
      channel.ack(message);
      moved++;
    });
    return moved;
  }

  async depth(): Promise<number> {
    const session = await this.ready();
    let total = 0;
    for (const endpoint of this.known) {
      // Ready messages, everywhere; the broker does not count unacknowledged ones in it.
      total += (await this.declare(session, session.publisher, this.names.endpoint(endpoint), ENDPOINT_QUEUE_ARGS)).messageCount;
    }
    // Plus the deliveries running here. One running on another node is not seen from here.
    return total + this.inFlight.size;
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    for (const wake of this.sessionReady) wake();
    // Let deliveries in flight finish and be acked; messages the broker pushes
    // meanwhile are left unacknowledged. Closing the channels then requeues
    // whatever is unacknowledged, at its place, for the next active consumer.
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.inFlight), new Promise((resolve) => (grace = setTimeout(resolve, CLOSE_GRACE_MS)))]);
    clearTimeout(grace);
    const session = this.session;
    this.session = null;
    if (session !== null) await session.connection.close().catch(() => undefined);
  }

  /** Publish persistently and wait for the broker's confirm; waits (bounded) for a broker that is down. */
  private async publish(queue: string, args: typeof ENDPOINT_QUEUE_ARGS | typeof DEAD_QUEUE_ARGS, text: string, messageId: string): Promise<void> {
    if (this.state === 'closed') throw new Error('webhook queue closed');
    this.connect();
    const session = await this.ready(PUBLISH_WAIT_MS);
    if (!session.declared.has(queue)) await this.declare(session, session.publisher, queue, args);
    const token = randomUUID();
    await new Promise<void>((resolve, reject) => {
      session.publisher.publish(
        '',
        queue,
        Buffer.from(text),
        // mandatory: a queue deleted since it was declared returns the message instead of dropping it.
        { persistent: true, mandatory: true, messageId, contentType: 'application/json', headers: { 'x-publish-token': token } },
        (err: unknown) => {
          if (err !== null && err !== undefined) reject(err instanceof Error ? err : new Error(`publish not confirmed: ${String(err)}`));
          else if (this.returned.delete(token)) {
            session.declared.delete(queue);
            reject(new Error(`queue ${queue} not found: batch returned`));
          } else resolve();
        },
      );
    });
  }

  private async declare(session: Session, channel: Channel, queue: string, args: typeof ENDPOINT_QUEUE_ARGS | typeof DEAD_QUEUE_ARGS) {
    const reply = await channel.assertQueue(queue, args);
    session.declared.add(queue);
    this.everDeclared.add(queue);
    return reply;
  }

  /** Every dead letter in turn on a channel of its own; closing it puts the unacknowledged back. */
  private async readDead(each: (channel: Channel, message: GetMessage, letter: DeadLetter | null) => Promise<void>): Promise<void> {
    const session = await this.ready(PUBLISH_WAIT_MS);
    const channel = await session.connection.createChannel();
    channel.on('error', ignore);
    try {
      await channel.assertQueue(this.names.dead, DEAD_QUEUE_ARGS);
      // Bounded by the queue's own bound, in case messages are being added as fast as we read.
      for (let i = 0; i < DEAD_MAX_LENGTH * 2; i++) {
        const message = await channel.get(this.names.dead, { noAck: false });
        if (message === false) break;
        await each(channel, message, decodeDeadLetter(message.content.toString()));
      }
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /** The current session, waiting for one (up to `ms`) while the link is down. */
  private async ready(ms = PUBLISH_WAIT_MS): Promise<Session> {
    if (this.session !== null) return this.session;
    if (this.state === 'closed') throw new Error('webhook queue closed');
    this.connect();
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.sessionReady.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sessionReady.add(done);
    });
    if (this.session === null) throw new Error(`webhook queue: rabbitmq unavailable (waited ${ms} ms)`);
    return this.session;
  }

  /** Start connecting unless connected, connecting, waiting to retry, or closed. */
  private connect(): void {
    if (this.state !== 'disconnected' || this.retryTimer !== null) return;
    this.state = 'connecting';
    void this.open().then(
      (session) => {
        if (this.state === 'closed' || session.dead) {
          void session.connection.close().catch(() => undefined);
          if (this.state !== 'closed') {
            this.state = 'disconnected';
            this.retryLater();
          }
          return;
        }
        this.session = session;
        this.state = 'connected';
        this.backoff.reset();
        // Endpoints started while this session was being opened.
        for (const endpoint of this.endpoints) void this.consume(session, endpoint).catch((err: unknown) => this.lost(session, err));
        this.link.back();
        for (const wake of this.sessionReady) wake();
      },
      (err: unknown) => {
        if (this.state === 'closed') return;
        this.state = 'disconnected';
        this.linkFailed(err);
        this.retryLater();
      },
    );
  }

  private retryLater(): void {
    if (this.state === 'closed' || this.retryTimer !== null) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, this.backoff.next());
  }

  /** Connect, open both channels, declare and consume every started endpoint. */
  private async open(): Promise<Session> {
    // timeout: a broker host that drops packets fails the attempt in 5 s instead of the OS's minutes.
    const connection = await connect(this.url, { timeout: 5000, clientProperties: { connection_name: `switchboard-webhooks:${process.pid}` } });
    // An 'error' event with no listener throws: never let a broker failure during set-up take the process down.
    connection.on('error', ignore);
    // The set-up calls below are RPCs without a timeout of their own: one a broker never
    // answers (still recovering, overloaded) must not leave the link 'connecting' forever.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`rabbitmq session set-up took over ${SETUP_TIMEOUT_MS} ms`)), SETUP_TIMEOUT_MS);
    });
    try {
      return await Promise.race([this.setUp(connection), timeout]);
    } catch (err) {
      // Not awaited: a broker that does not answer would not answer close either.
      void connection.close().catch(ignore);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private async setUp(connection: ChannelModel): Promise<Session> {
    const publisher = await connection.createConfirmChannel();
    publisher.on('error', ignore);
    const consumer = await connection.createChannel();
    consumer.on('error', ignore);
    await consumer.prefetch(1, false);
    const session: Session = { connection, publisher, consumer, declared: new Set(), consuming: new Set(), dead: false };
    // Any error on the connection or either channel ends the session: a
    // channel closed by the broker (say, an ack it did not expect) loses its
    // consumers, and rebuilding everything is the one recovery path to trust.
    connection.on('error', (err: Error) => this.lost(session, err));
    connection.on('close', (err?: Error) => this.lost(session, err ?? new Error('connection closed')));
    for (const channel of [publisher, consumer]) {
      channel.on('error', (err: Error) => this.lost(session, err));
      channel.on('close', () => this.lost(session, new Error('channel closed')));
    }
    publisher.on('return', (message: { properties: { headers?: Record<string, unknown> } }) => {
      const token = message.properties.headers?.['x-publish-token'];
      if (typeof token === 'string') this.returned.add(token);
    });
    // Before anything here declares them again (which would create them empty).
    await this.reportLostQueues(connection);
    for (const endpoint of this.endpoints) await this.consume(session, endpoint);
    return session;
  }

  /**
   * A durable queue can be gone after a broker restart with every confirmed
   * batch in it: RabbitMQ 3.x keeps queue definitions in Mnesia, whose log is
   * written with a delayed write (about 2 s), so a queue declared just before
   * a broker crash may not be recovered (its messages are then discarded),
   * and an operator may delete one. Our next declare would create it again,
   * empty, and the loss would go unseen: so each new connection first checks
   * (passively) every queue this driver had declared, and reports the ones
   * that are gone. A failed check closes its channel; the next gets a new one.
   */
  private async reportLostQueues(connection: ChannelModel): Promise<void> {
    let channel: Channel | null = null;
    try {
      for (const queue of this.everDeclared) {
        if (channel === null) {
          channel = await connection.createChannel();
          channel.on('error', ignore);
        }
        try {
          await channel.checkQueue(queue);
        } catch (err) {
          if ((err as { code?: unknown }).code !== 404) throw err;
          channel = null;
          metrics.webhookQueuesLost.inc();
          this.options.logger.error(
            { queue },
            'webhook queue: a rabbitmq queue this node had declared is gone after a reconnect (deleted, or lost by the broker in a crash), with any batches that were in it; declaring it again',
          );
        }
      }
    } finally {
      if (channel !== null) await channel.close().catch(ignore);
    }
  }

  private async consume(session: Session, endpoint: string): Promise<void> {
    if (session.consuming.has(endpoint)) return;
    session.consuming.add(endpoint);
    const queue = this.names.endpoint(endpoint);
    await this.declare(session, session.consumer, queue, ENDPOINT_QUEUE_ARGS);
    await session.consumer.consume(queue, (message) => this.onMessage(session, endpoint, message), { noAck: false });
  }

  private onMessage(session: Session, endpoint: string, message: ConsumeMessage | null): void {
    if (message === null) {
      // The broker cancelled the consumer (queue deleted): rebuild, which declares it again.
      this.lost(session, new Error(`consumer of ${endpoint} cancelled by the broker`));
      return;
    }
    if (this.state === 'closed') return; // left unacknowledged: requeued when the channel closes
    // handle() settles every outcome itself; the catch only keeps a surprise from becoming an unhandled rejection.
    const run = this.handle(session, endpoint, message).catch((err: unknown) => this.lost(session, err));
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
  }

  private async handle(session: Session, endpoint: string, message: ConsumeMessage): Promise<void> {
    const batch = decodeBatch(message.content.toString());
    if (batch === null) {
      this.options.logger.error({ endpoint, content: message.content.toString().slice(0, 200) }, 'webhook queue: dropping an undecodable message');
      this.settle(session, message, 'ack');
      return;
    }
    // A delivery of this endpoint from a session that died may still be running (the
    // pipeline's retry loop can take minutes), and the broker has redelivered its
    // batch here: wait for it rather than deliver the endpoint twice at once, and do
    // not send again a batch that it did deliver meanwhile.
    const previous = this.running.get(endpoint);
    if (previous !== undefined) {
      this.options.logger.debug(
        { endpoint, batch: batch.id, running: previous.id },
        'webhook queue: redelivered while a delivery of its endpoint still runs here: waiting for it',
      );
      const delivered = await previous.done;
      if (delivered && previous.id === batch.id) {
        this.settle(session, message, 'ack');
        return;
      }
    }
    let finish!: (delivered: boolean) => void;
    const current = { id: batch.id, done: new Promise<boolean>((resolve) => (finish = resolve)) };
    this.running.set(endpoint, current);
    try {
      await this.deliver!(batch);
      finish(true);
      this.settle(session, message, 'ack');
    } catch (err) {
      finish(false);
      this.options.logger.warn({ endpoint, batch: batch.id, err: errorMessage(err) }, 'webhook queue: delivery failed, will retry');
      // Keep it unacknowledged a while (holding the endpoint back), then requeue: it returns to the head.
      await new Promise((resolve) => setTimeout(resolve, message.fields.redelivered ? 1000 : 250));
      this.settle(session, message, 'requeue');
    } finally {
      if (this.running.get(endpoint) === current) this.running.delete(endpoint);
    }
  }

  /**
   * Ack or requeue on the channel the message came on, whatever the session's
   * state: a message can arrive and finish while its session is still being
   * set up (not yet the current one), and one left unacknowledged on a
   * channel that is still open would hold its endpoint back (prefetch 1, a
   * single active consumer). On a closed channel amqplib throws, and the
   * broker has requeued the message, to be delivered again.
   */
  private settle(session: Session, message: ConsumeMessage, how: 'ack' | 'requeue'): void {
    try {
      if (how === 'ack') session.consumer.ack(message);
      else session.consumer.nack(message, false, true);
    } catch (err) {
      if (!session.dead) this.lost(session, err);
    }
  }

  /** The session broke (or a step on it failed): drop it and reconnect with backoff. */
  private lost(session: Session, err: unknown): void {
    // Whatever part failed, the whole connection goes: a channel of it left open
    // would keep its consumers (and their unacknowledged batches) at the broker.
    if (!session.dead) void session.connection.close().catch(ignore);
    session.dead = true;
    if (this.session !== session && this.session !== null) return;
    if (this.session === session) this.session = null;
    if (this.state === 'closed') return;
    this.linkFailed(err);
    if (this.state === 'connected') {
      this.state = 'disconnected';
      this.retryLater();
    }
  }

  private linkFailed(err: unknown): void {
    this.link.failed(err);
  }
}

function ignore(): void {}
