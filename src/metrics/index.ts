import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The node's one metric registry. Every metric is defined here and imported where it is counted. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'switchboard_' });

const registers = [registry];

export const metrics = {
  connections: new Gauge({ name: 'switchboard_connections', help: 'Open WebSocket connections', labelNames: ['app_id'] as const, registers }),
  newConnections: new Counter({ name: 'switchboard_new_connections_total', help: 'Accepted WebSocket connections', labelNames: ['app_id'] as const, registers }),
  disconnections: new Counter({ name: 'switchboard_disconnections_total', help: 'Closed WebSocket connections by close code', labelNames: ['code'] as const, registers }),
  messagesIn: new Counter({ name: 'switchboard_ws_messages_received_total', help: 'WebSocket messages received from clients', registers }),
  bytesIn: new Counter({ name: 'switchboard_ws_bytes_received_total', help: 'WebSocket payload bytes received from clients', registers }),
  messagesOut: new Counter({ name: 'switchboard_ws_messages_sent_total', help: 'WebSocket messages written to clients (one per delivery)', registers }),
  bytesOut: new Counter({ name: 'switchboard_ws_bytes_sent_total', help: 'WebSocket frame bytes written to clients', registers }),
  socketWrites: new Counter({ name: 'switchboard_socket_writes_total', help: 'Socket write calls after per-turn coalescing', registers }),
  channels: new Gauge({ name: 'switchboard_channels', help: 'Occupied channels', labelNames: ['app_id'] as const, registers }),
  publishes: new Counter({ name: 'switchboard_events_published_total', help: 'Events published to a channel (API and client events)', labelNames: ['source'] as const, registers }),
  httpRequests: new Counter({ name: 'switchboard_http_api_requests_total', help: 'HTTP API requests by route and status', labelNames: ['route', 'status'] as const, registers }),
  publishToWrite: new Histogram({
    name: 'switchboard_publish_to_write_seconds',
    help: 'Time from an event being published on this node to its frames being handed to the sockets',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers,
  }),
  limitTrips: new Counter({ name: 'switchboard_limit_trips_total', help: 'Times a configured limit was hit', labelNames: ['limit'] as const, registers }),
  protocolErrors: new Counter({ name: 'switchboard_protocol_errors_total', help: 'pusher:error replies sent, by code', labelNames: ['code'] as const, registers }),
  handlerFaults: new Counter({ name: 'switchboard_handler_faults_total', help: 'Unexpected exceptions contained to one socket or request', registers }),
};
