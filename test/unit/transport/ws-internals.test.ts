import { once } from 'node:events';
import { Socket, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { rawSocketOf } from '../../../src/transport/ws-internals.js';
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
});
