// Reference target for `switchboard bench --driver socketio`: Socket.IO 4 on its WebSocket transport,
// one room per channel. Events:
//   sub(channel, ack)      join the room, then ack
//   unsub(channel)         leave the room
//   pub(channel, data)     emit msg(channel, data) to the whole room
//   client(channel, data)  emit msg(channel, data) to the room except the sender
// Env: PORT (0 = any free port), HOST (default 127.0.0.1). Prints "ready <port>" once listening.
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 0);

const httpServer = createServer();
const io = new Server(httpServer, { transports: ['websocket'], serveClient: false, perMessageDeflate: false, maxHttpBufferSize: 64 * 1024 });

io.on('connection', (socket) => {
  socket.on('sub', (channel, ack) => {
    if (typeof channel !== 'string') return;
    socket.join(channel);
    if (typeof ack === 'function') ack(true);
  });
  socket.on('unsub', (channel) => {
    if (typeof channel === 'string') socket.leave(channel);
  });
  socket.on('pub', (channel, data) => {
    if (typeof channel === 'string') io.to(channel).emit('msg', channel, data);
  });
  socket.on('client', (channel, data) => {
    if (typeof channel === 'string') socket.to(channel).emit('msg', channel, data);
  });
});

httpServer.listen(port, host, () => console.log(`ready ${httpServer.address().port}`));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => io.close(() => process.exit(0)));
