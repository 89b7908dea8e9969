import { once } from 'node:events';
import { Socket, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { LeanWebSocket, rawSocketOf } from '../../../src/transport/ws-internals.js';
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

  /** A server on LeanWebSocket; resolves with the server side of the first connection and what it received. */
  async function leanServer(perMessageDeflate: boolean) {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate, WebSocket: LeanWebSocket as unknown as typeof WebSocket });
    wss = server;
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const accepted = new Promise<{ ws: WebSocket; first: Promise<string> }>((resolve) =>
      server.on('connection', (ws) => resolve({ ws, first: new Promise((r) => ws.once('message', (d) => r(String(d)))) })),
    );
    const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate });
    await once(client, 'open');
    return { client, ...(await accepted) };
  }
  type Internals = { _extensions: object; _receiver: { _extensions: object }; _sender: { _extensions: object } };

  it('LeanWebSocket: sockets without an extension share one frozen extensions object with their Receiver and Sender', async () => {
    const { client, ws, first } = await leanServer(false);
    const other = await new Promise<WebSocket>((resolve) => {
      wss!.once('connection', resolve);
      new WebSocket(`ws://127.0.0.1:${(wss!.address() as AddressInfo).port}`, { perMessageDeflate: false });
    });
    const a = ws as unknown as Internals;
    const b = other as unknown as Internals;
    expect(ws).toBeInstanceOf(LeanWebSocket);
    expect(a._extensions).toBe(b._extensions);
    expect(Object.isFrozen(a._extensions)).toBe(true);
    expect(Object.keys(a._extensions)).toEqual([]);
    expect(a._receiver._extensions).toBe(a._extensions);
    expect(a._sender._extensions).toBe(a._extensions);
    client.send('plain');
    expect(await first).toBe('plain');
    client.close();
  });

  it('LeanWebSocket: a socket that negotiates permessage-deflate gets its own extensions and inflates what the client sends', async () => {
    const { client, ws, first } = await leanServer(true);
    const extensions = (ws as unknown as Internals)._extensions;
    expect(Object.keys(extensions)).toEqual(['permessage-deflate']);
    expect(Object.isFrozen(extensions)).toBe(false);
    client.send('x'.repeat(5000), { compress: true });
    expect(await first).toBe('x'.repeat(5000));
    client.close();
  });
});
