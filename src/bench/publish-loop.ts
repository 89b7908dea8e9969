import { errorCode, type Publisher } from './drivers/types.js';
import { encodeMarker } from './marker.js';
import type { CodeCounts } from './messages.js';
import type { LoadPattern } from './patterns.js';
import { runSchedule, type ScheduleRun } from './scheduler.js';

// Past this many unanswered publishes the target has stopped answering; further ones count as errors.
const BACKLOG_LIMIT = 20_000;

/**
 * Where the orchestrator's publisher is in its sequences: one counter per publisher connection,
 * across all phases (receivers count order per connection; see sequence-tracker.ts).
 */
export interface PublisherIdentity {
  id: number;
  nextSeq: number[];
}

/**
 * The orchestrator's publishes for one phase: on the pattern's fixed schedule, round robin over
 * `channels`, each stamped with its scheduled time. Publishes are not awaited one by one, so a slow
 * answer never delays the next send; their outcomes are tallied per channel.
 */
export class PublishLoop {
  readonly publishedOk: Record<string, number> = {};
  readonly errorsByCode: CodeCounts = {};
  errors = 0;
  inFlight = 0;
  private readonly schedule: ScheduleRun;

  constructor(
    private readonly publisher: Publisher,
    private readonly channels: readonly string[],
    pattern: LoadPattern,
    durationMs: number,
    startMicros: number,
    private readonly phase: number,
    private readonly payloadBytes: number,
    private readonly identity: PublisherIdentity,
    private readonly onSend: () => void,
  ) {
    this.schedule = runSchedule(pattern, durationMs, startMicros, this.send);
  }

  private readonly send = (scheduledMicros: number, index: number): void => {
    const channel = this.channels[index % this.channels.length] ?? '';
    this.onSend();
    if (this.inFlight >= BACKLOG_LIMIT) {
      this.failed('generator_backlog');
      return;
    }
    this.inFlight++;
    // Numbered on the connection it goes out on, which keeps the order it is numbered in.
    const connection = this.publisher.nextConnection();
    const seq = this.identity.nextSeq[connection] ?? 0;
    this.identity.nextSeq[connection] = seq + 1;
    const payload = encodeMarker({ scheduledMicros, phase: this.phase, publisher: this.identity.id, connection, seq }, this.payloadBytes);
    this.publisher.publish(channel, payload, connection).then(
      () => {
        this.inFlight--;
        this.publishedOk[channel] = (this.publishedOk[channel] ?? 0) + 1;
      },
      (err: unknown) => {
        this.inFlight--;
        this.failed(errorCode(err));
      },
    );
  };

  private failed(code: string): void {
    this.errors++;
    this.errorsByCode[code] = (this.errorsByCode[code] ?? 0) + 1;
  }

  /** Resolves once every scheduled publish was sent, with the publisher's worst lateness. */
  async sent(): Promise<{ maxLagMs: number }> {
    return this.schedule.done;
  }

  stop(): void {
    this.schedule.stop();
  }
}
