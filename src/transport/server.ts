import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config/schema.js';
import { countLimitTrip, metrics } from '../metrics/index.js';
import type { Logger } from '../util/logger.js';
import { tlsPairOf, watchTlsPair } from '../util/tls-files.js';
import type { WsFanout } from './outbound.js';
import type { Endpoint, TransportHooks } from './types.js';
import { leanWebSocketClass, negotiatedServerWindowBits, rawSocketOf, type SocketEvents, socketOf } from './ws-internals.js';

const kEndpoint = Symbol('switchboard.endpoint');
interface TaggedWebSocket extends WebSocket {
  [kEndpoint]?: Endpoint;
}

/**
 * The WebSocket event handlers of one node. They are made once per node (not
 * per socket or message), the node's WebSocket class calls them without
 * listeners (ws-internals.ts), and they reach their endpoint through a
 * symbol on the WebSocket, so a socket costs no closures.
 */
function socketListeners(hooks: TransportHooks, log: Logger, maxSendBufferBytes: number): SocketEvents {
  return {
    /**
     * A client's WebSocket ping gets its pong here rather than from ws's
     * autoPong, which keeps a closure per socket (96 bytes with its context)
     * to count the pongs not yet written. The bound is the socket's unsent
     * bytes instead, the same limit as for our own frames: a client that
     * pings without reading is cut once they pass maxSendBufferBytes.
     */
    ping(this: WebSocket, data: Buffer): void {
      if (this.readyState !== 1) return;
      if (socketOf(this).writableLength > maxSendBufferBytes) {
        countLimitTrip('maxSendBufferBytes');
        log.info({ socketId: (this as TaggedWebSocket)[kEndpoint]?.id }, 'pings unanswered past maxSendBufferBytes: socket cut');
        this.terminate();
        return;
      }
      this.pong(data, false);
    },
    message(this: TaggedWebSocket, data: Buffer, isBinary: boolean): void {
      const endpoint = this[kEndpoint];
      if (endpoint !== undefined) hooks.message(endpoint, data, isBinary);
    },
    close(this: TaggedWebSocket, code: number): void {
      const endpoint = this[kEndpoint];
      if (endpoint === undefined) return;
      this[kEndpoint] = undefined;
      endpoint.open = false;
      endpoint.out = null;
      metrics.disconnections.inc({ code: String(code) });
      hooks.closed(endpoint, code);
    },
    error(this: TaggedWebSocket, error: Error & { code?: string }): void {
      // ws closes the socket itself after a protocol error (1009 for a frame
      // over maxPayload, also after inflating one); we only record why.
      log.debug({ err: error.message, code: error.code, socketId: this[kEndpoint]?.id }, 'websocket error');
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') countLimitTrip('maxFrameBytes');
    },
  };
}

/** The node's one port: HTTP API and WebSocket upgrades. */
export class Transport {
  readonly server: Server;
  /** The same server when it serves TLS itself (its certificate can be reloaded). */
  private readonly tlsServer: HttpsServer | null;
  private stopTlsWatch = (): void => undefined;
  private readonly wss: WebSocketServer;
  private accepting = true;

  constructor(
    private readonly config: Config,
    /** This node's fan-out: the same object the core sends through. */
    private readonly fanout: WsFanout,
    private readonly hooks: TransportHooks,
    httpHandler: (req: IncomingMessage, res: ServerResponse) => void,
    private readonly log: Logger,
  ) {
    // Node checks request deadlines every connectionsCheckingInterval (30 s by
    // default): at half the timeout, a 408 comes at most half a timeout late.
    const connectionsCheckingInterval = Math.min(config.httpRequestTimeout * 500, 30_000);
    const pair = tlsPairOf(config);
    this.tlsServer = pair === null ? null : createHttpsServer({ ...pair, connectionsCheckingInterval });
    this.server = this.tlsServer ?? createHttpServer({ connectionsCheckingInterval });
    // A slow or stalled HTTP sender may not hold a socket and a body buffer for long.
    this.server.requestTimeout = config.httpRequestTimeout * 1000;
    this.server.headersTimeout = Math.min(config.httpRequestTimeout, 10) * 1000;
    this.server.on('request', httpHandler);
    this.wss = new WebSocketServer({
      noServer: true,
      // Negotiated only when some app may get compressed frames. No context
      // takeover on our side, so one compressed frame fits every socket with
      // the same window size; the client's side is its own business, ws
      // inflates what it sends (bounded by maxPayload, else 1009).
      perMessageDeflate: fanout.compressionOffered
        ? { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: Number.MAX_SAFE_INTEGER }
        : false,
      clientTracking: false,
      // Events go to this node's handlers without listeners; sockets without an extension share one empty extensions object.
      WebSocket: leanWebSocketClass(socketListeners(hooks, log, config.maxSendBufferBytes)),
      // Pongs come from the ping handler (no closure per socket).
      autoPong: false,
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
      // Errors and pings are handled from the start (the node's WebSocket
      // class): a refused socket can still send a bad frame, and an 'error'
      // event nobody handles would take the process down.
      let endpoint: Endpoint | null | Promise<Endpoint | null>;
      try {
        rawSocketOf(ws);
        endpoint = this.hooks.admit(ws, req);
      } catch (err) {
        this.admissionFault(ws, err);
        return;
      }
      // Admission waits for the app store only on a cache miss.
      if (endpoint instanceof Promise)
        endpoint.then(
          (admitted) => this.attach(ws, admitted),
          (err: unknown) => this.admissionFault(ws, err),
        );
      else this.attach(ws, endpoint);
    });
  }

  /** Start handing an admitted socket's frames and close to its endpoint. */
  private attach(ws: WebSocket, endpoint: Endpoint | null): void {
    if (endpoint === null) return;
    (ws as TaggedWebSocket)[kEndpoint] = endpoint;
    this.fanout.bind(endpoint, negotiatedServerWindowBits(ws));
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
    this.stopTlsWatch = watchTlsPair(this.tlsServer, this.config, this.log);
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
    this.stopTlsWatch();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

function ignoreSocketError(): void {}
