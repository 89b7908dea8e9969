import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config/schema.js';
import { countLimitTrip, metrics } from '../metrics/index.js';
import type { Logger } from '../util/logger.js';
import type { Peer } from './peer.js';

/** Admission: a WebSocket was opened. Return its Peer, or null after closing it (rejected). */
/** Admit a socket: a peer, null (refused, already closed by the core), or a promise of either while the app store answers. */
export type AdmitPeer = (ws: WebSocket, req: IncomingMessage) => Peer | null | Promise<Peer | null>;

const kPeer = Symbol('switchboard.peer');
interface TaggedWebSocket extends WebSocket {
  [kPeer]?: Peer;
}

// One logger for socket-level debug lines; per-node behaviour goes through peer.context.
let log: Logger | undefined;

// Listeners are module-level functions bound once, reaching their peer through
// a symbol: no closure is allocated per socket or per message.
function onMessage(this: TaggedWebSocket, data: Buffer, isBinary: boolean): void {
  const peer = this[kPeer];
  if (peer !== undefined) peer.context.hooks.message(peer, data, isBinary);
}

function onClose(this: TaggedWebSocket, code: number): void {
  const peer = this[kPeer];
  if (peer === undefined) return;
  this[kPeer] = undefined;
  peer.open = false;
  peer.out = null;
  metrics.disconnections.inc({ code: String(code) });
  peer.context.hooks.closed(peer, code);
}

/** Start handing an admitted socket's frames and close to its peer. */
function attachPeer(ws: WebSocket, peer: Peer | null): void {
  if (peer === null) return;
  (ws as TaggedWebSocket)[kPeer] = peer;
  ws.on('message', onMessage);
  ws.on('close', onClose);
}

function onError(this: TaggedWebSocket, error: Error & { code?: string }): void {
  // ws closes the socket itself after a protocol error (e.g. 1009 for a frame
  // over maxPayload); we only record why.
  log?.debug({ err: error.message, code: error.code, socketId: this[kPeer]?.id }, 'websocket error');
  if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') countLimitTrip('maxFrameBytes');
}

/** The node's one port: HTTP API and WebSocket upgrades. */
export class Transport {
  readonly server: Server;
  private readonly wss: WebSocketServer;
  private accepting = true;
  private readonly log: Logger;

  constructor(
    private readonly config: Config,
    private readonly admit: AdmitPeer,
    httpHandler: (req: IncomingMessage, res: ServerResponse) => void,
    logger: Logger,
  ) {
    this.log = logger;
    log ??= logger;
    // Node checks request deadlines every connectionsCheckingInterval (30 s by
    // default): at half the timeout, a 408 comes at most half a timeout late.
    const connectionsCheckingInterval = Math.min(config.httpRequestTimeout * 500, 30_000);
    this.server =
      config.tlsCert !== undefined && config.tlsKey !== undefined
        ? createHttpsServer({ cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey), connectionsCheckingInterval })
        : createHttpServer({ connectionsCheckingInterval });
    // A slow or stalled HTTP sender may not hold a socket and a body buffer for long.
    this.server.requestTimeout = config.httpRequestTimeout * 1000;
    this.server.headersTimeout = Math.min(config.httpRequestTimeout, 10) * 1000;
    this.server.on('request', httpHandler);
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      clientTracking: false,
      maxPayload: config.maxFrameBytes,
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    this.server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
      this.log.debug({ err: err.message }, 'http client error');
      // With a clientError listener Node leaves the reply to us: keep its 408 for a request over httpRequestTimeout.
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
        countLimitTrip('httpRequestTimeout');
        if (socket.writable) socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
        else socket.destroy();
        return;
      }
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', ignoreSocketError);
    if (!this.accepting) {
      // Starting or draining: refuse before the handshake so a balancer or
      // the client's backoff sends the client to another node.
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off('error', ignoreSocketError);
      // Before admission: a refused socket can still send a bad frame, and an
      // 'error' event without a listener would take the process down.
      ws.on('error', onError);
      let peer: Peer | null | Promise<Peer | null>;
      try {
        peer = this.admit(ws, req);
      } catch (err) {
        this.admissionFault(ws, err);
        return;
      }
      // Admission waits for the app store only on a cache miss.
      if (peer instanceof Promise) peer.then((admitted) => attachPeer(ws, admitted), (err: unknown) => this.admissionFault(ws, err));
      else attachPeer(ws, peer);
    });
  }

  private admissionFault(ws: WebSocket, err: unknown): void {
    metrics.handlerFaults.inc();
    this.log.error({ err }, 'fault while admitting a connection');
    ws.terminate();
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port: this.config.port, host: this.config.host, backlog: 4096 }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  /** Refuse new WebSocket upgrades with 503 (starting up, or draining). */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** Take WebSocket upgrades again (the node has joined its cluster). */
  startAccepting(): void {
    this.accepting = true;
  }

  /** Close the listening socket and any idle HTTP keep-alive connections. */
  async close(): Promise<void> {
    this.accepting = false;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

function ignoreSocketError(): void {}
