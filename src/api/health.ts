import { registry } from '../metrics/index.js';
import { jsonReply, type ApiReply } from './reply.js';

export interface HealthState {
  ready: boolean;
  draining: boolean;
  detail?: Record<string, unknown>;
}

const LIVE_REPLY: ApiReply = Object.freeze({ status: 200, body: '{"ok":true}' });

/** `GET /health`: the process answers, nothing more (liveness). */
export function liveness(): ApiReply {
  return LIVE_REPLY;
}

/** `GET /ready`: 503 while draining or otherwise not ready, so balancers stop sending traffic. */
export function readiness(state: HealthState): ApiReply {
  if (state.ready) return jsonReply({ ...state.detail, ready: true });
  return jsonReply({ ...state.detail, ready: false, draining: state.draining }, 503);
}

/** `GET /metrics`: the Prometheus text of the node's one registry. */
export async function prometheusMetrics(): Promise<ApiReply> {
  return { status: 200, body: await registry.metrics(), contentType: registry.contentType };
}
