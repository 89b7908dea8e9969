import { clearTimer, now, setTimer, type Timer, type WebSocketConstructor, type WebSocketLike } from './host.js';
import { closeAction, decodeFrame, FrameError, socketUrl } from './protocol.js';

/** A socket that completed the Pusher handshake (`pusher:connection_established`). */
interface Established {
  url: string;
  socket: WebSocketLike;
  socketId: string;
  /** The server's `activity_timeout` in seconds, when it sent one. */
  activityTimeoutSec: number | null;
  /** From creating the socket to the handshake, ms. */
  elapsedMs: number;
}

export interface AttemptFailure {
  url: string;
  /** The close code, or null for a timeout or a socket that could not be created. */
  code: number | null;
  reason: string;
}

export type RaceResult =
  | { ok: true; winner: Established; failures: AttemptFailure[] }
  | { ok: false; failures: AttemptFailure[]; refused: AttemptFailure | null };

export interface RaceOptions {
  /** Start the next candidate when the current one has not finished within this (RFC 8305: 250 ms). */
  staggerMs: number;
  /** Attempts in flight at once. */
  maxInFlight: number;
  /** Give up on one attempt after this. */
  timeoutMs: number;
}

const noop = (): void => undefined;

interface Attempt {
  url: string;
  socket: WebSocketLike | null;
  startedAt: number;
  timer: Timer;
  errorCode: number | null;
}

/**
 * One connection round, raced in the manner of RFC 8305 ("Happy Eyeballs"): the first candidate
 * starts at once, the next one when the first has not completed its handshake within `staggerMs` or
 * as soon as one fails, with at most `maxInFlight` attempts open. The first handshake wins and
 * every other attempt is closed. A refusal (close codes 4001-4099: the app itself is refused) ends
 * the round, since another node would refuse it the same way.
 */
export class ConnectionRace {
  private next = 0;
  private readonly inFlight: Attempt[] = [];
  private readonly failures: AttemptFailure[] = [];
  private staggerTimer: Timer = null;
  private done = false;

  constructor(
    private readonly candidates: string[],
    private readonly WebSocketImpl: WebSocketConstructor,
    private readonly key: string,
    private readonly options: RaceOptions,
    private readonly onDone: (result: RaceResult) => void,
    private readonly onAttemptFailed: (failure: AttemptFailure) => void = noop,
  ) {
    if (candidates.length === 0) {
      this.done = true;
      setTimer(() => onDone({ ok: false, failures: [], refused: null }), 0);
      return;
    }
    this.launch();
  }

  /** Stop the round and close every attempt; `onDone` is not called. */
  cancel(): void {
    if (this.done) return;
    this.done = true;
    this.closeAll();
  }

  private launch(): void {
    if (this.done) return;
    clearTimer(this.staggerTimer);
    this.staggerTimer = null;
    // One new attempt per call: the next waits for the stagger interval unless one fails first.
    if (this.inFlight.length < this.options.maxInFlight && this.next < this.candidates.length) this.open(this.candidates[this.next++]!);
    if (this.next < this.candidates.length && this.inFlight.length < this.options.maxInFlight) {
      this.staggerTimer = setTimer(() => this.launch(), this.options.staggerMs);
    } else if (this.inFlight.length === 0) {
      this.finishFailed(null);
    }
  }

  private open(url: string): void {
    const attempt: Attempt = { url, socket: null, startedAt: now(), timer: null, errorCode: null };
    this.inFlight.push(attempt);
    let socket: WebSocketLike;
    try {
      socket = new this.WebSocketImpl(socketUrl(url, this.key));
    } catch (error) {
      // Failed on a later turn, so that launch() never re-enters itself.
      const reason = `cannot open a WebSocket: ${(error as Error)?.message ?? String(error)}`;
      attempt.timer = setTimer(() => this.fail(attempt, null, reason), 0);
      return;
    }
    attempt.socket = socket;
    attempt.timer = setTimer(() => this.fail(attempt, null, `no handshake within ${this.options.timeoutMs} ms`), this.options.timeoutMs);
    // `ws` throws on an 'error' event nobody listens to: keep a listener for the socket's whole life here.
    socket.onerror = noop;
    socket.onmessage = (event) => this.onMessage(attempt, event.data);
    socket.onclose = (event) =>
      this.fail(
        attempt,
        typeof event?.code === 'number' ? event.code : 1006,
        attempt.errorCode !== null ? `pusher:error ${attempt.errorCode}` : `closed (${event?.code})`,
      );
  }

  private onMessage(attempt: Attempt, raw: unknown): void {
    if (this.done || attempt.socket === null) return;
    const frame = decodeFrame(raw);
    if (frame instanceof FrameError) return;
    if (frame.event === 'pusher:error') {
      const code = (frame.data as { code?: unknown } | null)?.code;
      if (typeof code === 'number') attempt.errorCode = code;
      return;
    }
    if (frame.event !== 'pusher:connection_established') return;
    const data = frame.data as { socket_id?: unknown; activity_timeout?: unknown } | null;
    if (data === null || typeof data !== 'object' || typeof data.socket_id !== 'string' || !/^\d+\.\d+$/.test(data.socket_id)) {
      this.fail(attempt, null, 'malformed pusher:connection_established');
      return;
    }
    const activity = typeof data.activity_timeout === 'number' && data.activity_timeout > 0 ? data.activity_timeout : null;
    const socket = attempt.socket;
    this.forget(attempt);
    socket.onmessage = null;
    socket.onclose = null;
    this.done = true;
    this.closeAll();
    this.onDone({
      ok: true,
      winner: { url: attempt.url, socket, socketId: data.socket_id, activityTimeoutSec: activity, elapsedMs: now() - attempt.startedAt },
      failures: this.failures,
    });
  }

  private fail(attempt: Attempt, code: number | null, reason: string): void {
    if (this.done) return;
    const socket = attempt.socket;
    this.forget(attempt);
    if (socket !== null) closeQuietly(socket);
    const failure: AttemptFailure = { url: attempt.url, code: code ?? attempt.errorCode, reason };
    this.failures.push(failure);
    this.onAttemptFailed(failure);
    if (failure.code !== null && closeAction(failure.code) === 'refused') {
      this.done = true;
      this.closeAll();
      this.onDone({ ok: false, failures: this.failures, refused: failure });
      return;
    }
    this.launch();
  }

  private finishFailed(refused: AttemptFailure | null): void {
    if (this.done) return;
    this.done = true;
    this.onDone({ ok: false, failures: this.failures, refused });
  }

  private forget(attempt: Attempt): void {
    clearTimer(attempt.timer);
    const i = this.inFlight.indexOf(attempt);
    if (i >= 0) this.inFlight.splice(i, 1);
    attempt.socket = null;
  }

  private closeAll(): void {
    clearTimer(this.staggerTimer);
    this.staggerTimer = null;
    for (const attempt of this.inFlight.splice(0)) {
      clearTimer(attempt.timer);
      if (attempt.socket !== null) closeQuietly(attempt.socket);
      attempt.socket = null;
    }
  }
}

/** Close a socket we no longer want, whatever its state, without its events reaching anyone. */
export function closeQuietly(socket: WebSocketLike): void {
  socket.onmessage = null;
  socket.onclose = null;
  socket.onopen = null;
  socket.onerror = noop;
  try {
    socket.close(1000);
  } catch {
    // already closing or closed
  }
}
