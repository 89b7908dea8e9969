// Reference target for `switchboard bench --driver ws-raw`: the least a Node broadcast server can do
// with the `ws` package's public API. Protocol (JSON text frames):
//   {"op":"sub","ch":C}              -> {"op":"subscribed","ch":C}
//   {"op":"pub","ch":C,"data":D}     -> every member of C gets {"ch":C,"data":D}
//   {"op":"client","ch":C,"data":D}  -> every member of C except the sender gets {"ch":C,"data":D}
// Env: PORT (0 = any free port), HOST (default 127.0.0.1). Prints "ready <port>" once listening.
import { WebSocketServer } from 'ws';

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 0);
/** channel name -> Set of sockets */
const rooms = new Map();
/** socket -> Set of channel names, to leave its rooms on close */
const memberships = new WeakMap();

const server = new WebSocketServer({ host, port, perMessageDeflate: false, maxPayload: 64 * 1024 });

function broadcast(channel, data, except) {
  const members = rooms.get(channel);
  if (members === undefined) return;
  // Serialised once per broadcast; `ws` frames the same bytes for every member.
  const frame = Buffer.from(JSON.stringify({ ch: channel, data }));
  for (const member of members) {
    if (member !== except && member.readyState === 1) member.send(frame, { binary: false });
  }
}

function onMessage(raw) {
  let message;
  try {
    message = JSON.parse(raw.toString('utf8'));
  } catch {
    return;
  }
  if (typeof message?.ch !== 'string') return;
  switch (message.op) {
    case 'sub': {
      let members = rooms.get(message.ch);
      if (members === undefined) rooms.set(message.ch, (members = new Set()));
      members.add(this);
      memberships.get(this).add(message.ch);
      this.send(JSON.stringify({ op: 'subscribed', ch: message.ch }));
      break;
    }
    case 'unsub':
      rooms.get(message.ch)?.delete(this);
      memberships.get(this).delete(message.ch);
      break;
    case 'pub':
      broadcast(message.ch, message.data, undefined);
      break;
    case 'client':
      broadcast(message.ch, message.data, this);
      break;
  }
}

function onClose() {
  for (const channel of memberships.get(this)) {
    const members = rooms.get(channel);
    members?.delete(this);
    if (members?.size === 0) rooms.delete(channel);
  }
}

server.on('connection', (socket) => {
  memberships.set(socket, new Set());
  socket.on('message', onMessage);
  socket.on('close', onClose);
  socket.on('error', () => socket.terminate());
});

server.on('listening', () => console.log(`ready ${server.address().port}`));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
