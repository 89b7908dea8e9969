import { once } from 'node:events';
import { Socket, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { leanWebSocketClass, rawSocketOf } from '../../../src/transport/ws-internals.js';
import { until } from '../../helpers/node.js';
import { frameText } from '../../../src/transport/frame.js';

// Guards the one ws internal the transport relies on: if a ws upgrade renames
// or reshapes WebSocket._socket, this fails loudly instead of the node breaking.
describe('ws internals used by the transport', () => {
  let wss: WebSocketServer | undefined;
  afterEach(() => wss?.close());

  it('exposes the raw socket, and a frame written to it reaches the client intact and in order with ws.send', async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    await once(wss, 'listening');
    const port = (wss.address() as AddressInfo).port;
    wss.on('connection', (ws) => {
      const socket = rawSocketOf(ws);
      expect(socket).toBeInstanceOf(Socket);
      socket.write(frameText('first'));
      ws.send('second');
      socket.write(frameText('third'));
    });
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    const received: string[] = [];
    await new Promise<void>((resolve) => {
      client.on('message', (data) => {
        received.push(String(data));
        if (received.length === 3) resolve();
      });
    });
    client.close();
    expect(received).toEqual(['first', 'second', 'third']);
  });

  /** What a node's handlers heard, by event. */
  type Heard = Array<[string, unknown]>;

  /** A server on the lean WebSocket class; resolves with the server side of the first connection. */
  async function leanServer(perMessageDeflate: boolean, maxPayload = 100 * 1024) {
    const heard: Heard = [];
    const WebSocketClass = leanWebSocketClass({
      message: (data, isBinary) => heard.push(['message', `${String(data)}${isBinary ? ' (binary)' : ''}`]),
      close: (code) => heard.push(['close', code]),
      error: (error) => heard.push(['error', error.code]),
      ping: (data) => heard.push(['ping', String(data)]),
    });
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate, maxPayload, clientTracking: false, WebSocket: WebSocketClass });
    wss = server;
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const accepted = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
    const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate });
    await once(client, 'open');
    return { client, ws: await accepted, heard, port };
  }
  type Internals = { _extensions: object; _receiver: { _extensions: object }; _sender: { _extensions: object } };
  const heardOf = (heard: Heard, event: string) => heard.filter(([e]) => e === event).map(([, v]) => v);

  it('lean WebSocket: message, ping, error and close reach the handlers with no listener on the socket; a listener added still hears them', async () => {
    const { client, ws, heard } = await leanServer(false, 16);
    for (const event of ['message', 'ping', 'error', 'close']) expect(ws.listenerCount(event)).toBe(0);
    client.send('hi');
    client.send(Buffer.from('b'));
    client.ping('p');
    await until(() => heard.length === 3);
    const extra: string[] = [];
    ws.on('message', (data) => extra.push(String(data)));
    client.send('again');
    await until(() => extra.length === 1);
    const clientClosed = once(client, 'close');
    client.send('x'.repeat(17)); // over maxPayload: ws closes with 1009 after the error
    expect((await clientClosed)[0]).toBe(1009);
    await until(() => heardOf(heard, 'close').length === 1);
    expect(heardOf(heard, 'message')).toEqual(['hi', 'b (binary)', 'again']);
    expect(heardOf(heard, 'ping')).toEqual(['p']);
    expect(heardOf(heard, 'error')).toEqual(['WS_ERR_UNSUPPORTED_MESSAGE_LENGTH']);
    expect(heardOf(heard, 'close')).toEqual([1006]); // the server's side: the client's reply to the 1009 never came
    expect(extra).toEqual(['again']);
  });

  it('lean WebSocket: sockets without an extension share one frozen extensions object with their Receiver and Sender', async () => {
    const { client, ws, heard, port } = await leanServer(false);
    const other = await new Promise<WebSocket>((resolve) => {
      wss!.once('connection', resolve);
      new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
    });
    const a = ws as unknown as Internals;
    const b = other as unknown as Internals;
    expect(a._extensions).toBe(b._extensions);
    expect(Object.isFrozen(a._extensions)).toBe(true);
    expect(Object.keys(a._extensions)).toEqual([]);
    expect(a._receiver._extensions).toBe(a._extensions);
    expect(a._sender._extensions).toBe(a._extensions);
    client.send('plain');
    await until(() => heard.length === 1);
    expect(heard).toEqual([['message', 'plain']]);
    client.close();
  });

  it('lean WebSocket: a socket that negotiates permessage-deflate gets its own extensions and inflates what the client sends', async () => {
    const { client, ws, heard } = await leanServer(true);
    const extensions = (ws as unknown as Internals)._extensions;
    expect(Object.keys(extensions)).toEqual(['permessage-deflate']);
    expect(Object.isFrozen(extensions)).toBe(false);
    client.send('x'.repeat(5000), { compress: true });
    await until(() => heard.length === 1);
    expect(heard).toEqual([['message', 'x'.repeat(5000)]]);
    client.close();
  });
});
