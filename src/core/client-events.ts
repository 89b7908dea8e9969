import { SwitchboardError, ErrorCode } from '../protocol/errors.js';
import { encodeEvent } from '../protocol/frames.js';
import { countLimitTrip, metrics } from '../metrics/index.js';
import { deliverToChannel } from './delivery.js';
import type { Connection } from './connection.js';

export interface ClientEventRequest {
  event: string;
  channel: string;
  data: unknown;
}

/**
 * Relay a `client-*` event to the other subscribers of a private or presence
 * channel. Returns the error to answer with, or null when relayed.
 */
export function relayClientEvent(conn: Connection, req: ClientEventRequest, now: number): SwitchboardError | null {
  const app = conn.app;
  const config = app.config;
  if (!config.enableClientEvents) return new SwitchboardError(ErrorCode.ClientEventsDisabled);
  const channel = app.channels.get(req.channel);
  if (channel === undefined || !channel.hasSubscriber(conn)) return new SwitchboardError(ErrorCode.ClientEventNotSubscribed, req.channel);
  const type = channel.kind.type;
  if (type === 'encrypted') return new SwitchboardError(ErrorCode.ClientEventOnEncryptedChannel);
  if (type !== 'private' && type !== 'presence') return new SwitchboardError(ErrorCode.ClientEventOnPublicChannel);
  if (req.event.length > config.maxEventNameLength) {
    countLimitTrip('maxEventNameLength');
    return new SwitchboardError(ErrorCode.ClientEventNameInvalid);
  }

  const window = Math.floor(now / 1000);
  if (conn.clientEventWindow !== window) {
    conn.clientEventWindow = window;
    conn.clientEventCount = 0;
  }
  if (++conn.clientEventCount > config.maxClientEventsPerSecond) {
    countLimitTrip('maxClientEventsPerSecond');
    return new SwitchboardError(ErrorCode.ClientEventRateLimited);
  }

  const dataBytes = typeof req.data === 'string' ? Buffer.byteLength(req.data) : Buffer.byteLength(JSON.stringify(req.data) ?? '');
  if (dataBytes > config.maxEventPayloadKb * 1024) {
    countLimitTrip('maxEventPayloadKb');
    return new SwitchboardError(ErrorCode.PayloadTooLarge);
  }

  conn.lastActionAt = now;
  const userId = channel.members !== null ? conn.presence?.get(channel) : undefined;
  const json = encodeEvent(req.event, req.data, req.channel, userId);
  metrics.publishes.inc({ source: 'client' });
  const rule = app.history?.ruleFor(req.channel) ?? null;
  if (rule !== null) {
    // Delivered by the history store in offset order; a failure is counted and logged there.
    app.history!.append(req.channel, rule, json, conn.id)?.catch(ignoreNotAppended);
  } else {
    deliverToChannel(app, req.channel, json, channel.kind.cache, conn.id);
    app.cluster?.publish(config.id, req.channel, json);
  }
  app.webhooks?.clientEvent(req.channel, req.event, req.data, conn.id, userId);
  return null;
}

// The history store counted and logged it; a client event has no reply to carry the failure.
function ignoreNotAppended(): void {}
