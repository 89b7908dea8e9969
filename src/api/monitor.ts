import { ErrorCode, SwitchboardError } from '../protocol/errors.js';
import { jsonReply, type ApiReply } from './reply.js';

/**
 * What `GET /alerts` and `GET /cluster/scaling` read from the node's monitor.
 * Both are read-only operational views like `/cluster` and `/metrics`, and
 * like them unauthenticated (docs/operations.md): keep the node's port off
 * the public internet or put these paths behind the proxy's access rules.
 */
export interface MonitorApi {
  /** Active alerts, recent notices and signal levels; with `history`, the samples too. */
  alerts(withHistory: boolean): unknown;
  /** The cluster's scaling advice with its reason. */
  scaling(): unknown;
}

/** `GET /alerts[?history=1]`. */
export function alertsReply(monitor: MonitorApi | undefined, query: URLSearchParams): ApiReply {
  if (monitor === undefined) throw new SwitchboardError(ErrorCode.ApiNotFound, 'the monitor is off (monitor: false)');
  const history = query.get('history');
  return jsonReply(monitor.alerts(history === '1' || history === 'true'));
}

/** `GET /cluster/scaling`. */
export function scalingReply(monitor: MonitorApi | undefined): ApiReply {
  if (monitor === undefined) throw new SwitchboardError(ErrorCode.ApiNotFound, 'the monitor is off (monitor: false): no scaling advice');
  return jsonReply(monitor.scaling());
}
