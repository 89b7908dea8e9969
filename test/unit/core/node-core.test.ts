import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import type { Connection } from '../../../src/core/connection.js';
import { NodeCore } from '../../../src/core/node-core.js';
import { classifyChannel } from '../../../src/protocol/channels.js';
import { signChannelAuth } from '../../../src/protocol/signatures.js';
import { createLogger } from '../../../src/util/logger.js';
import { MemoryTransport, type MemorySocket } from '../../helpers/memory-transport.js';

const APP = { id: 'app-id', key: 'app-key', secret: 'app-secret' };
const PATH = `/app/${APP.key}?protocol=7&client=js&version=8.4.0`;

/**
 * The core's rules on the in-memory transport: no sockets, no `ws`, no
 * framing. That the core runs unchanged on it is the proof that the
 * transport interface is the whole boundary.
 */
describe('NodeCore on an in-memory transport', () => {
  let transport: MemoryTransport;
  let core: NodeCore;

  beforeEach(() => {
    transport = new MemoryTransport();
    core = new NodeCore(configSchema.parse({ apps: [{ ...APP, maxPresenceMembersPerChannel: 5 }], maxConnections: 3 }), createLogger('silent'), transport);
    transport.attach(core);
  });
  afterEach(() => core.stop());

  function open(): { conn: Connection; socket: MemorySocket } {
    const { endpoint, socket } = transport.connect(PATH);
    expect(endpoint).not.toBeNull();
    return { conn: endpoint as Connection, socket };
  }

  function subscribe(conn: Connection, channel: string, channelData?: object): void {
    const data: Record<string, string> = { channel };
    if (channel.startsWith('presence-') || channel.startsWith('private-')) {
      const cd = channelData === undefined ? undefined : JSON.stringify(channelData);
      data.auth = signChannelAuth(APP, conn.id, channel, cd);
      if (cd !== undefined) data.channel_data = cd;
    }
    transport.receive(conn, { event: 'pusher:subscribe', data });
  }

  const events = (socket: MemorySocket, name: string) => socket.messages.filter((m) => m.event === name);

  it('greets a socket with connection_established carrying its socket id and activity timeout', () => {
    const { conn, socket } = open();
    expect(socket.messages).toHaveLength(1);
    expect(socket.messages[0]!.event).toBe('pusher:connection_established');
    expect(JSON.parse(socket.messages[0]!.data as string)).toEqual({ socket_id: conn.id, activity_timeout: 120 });
  });

  it('refuses an unknown app key with 4001 through the transport, and over maxConnections with 4100', () => {
    const refused = transport.connect('/app/nope?protocol=7');
    expect(refused.endpoint).toBeNull();
    expect(refused.socket.closeCode).toBe(4001);
    expect(JSON.parse(refused.socket.refusedWith!)).toMatchObject({ event: 'pusher:error', data: { code: 4001 } });
    open();
    open();
    open();
    const over = transport.connect(PATH);
    expect(over.endpoint).toBeNull();
    expect(over.socket.closeCode).toBe(4100);
  });

  it('delivers a published event once to every subscriber but the excluded socket, in one broadcast', () => {
    const a = open();
    const b = open();
    const other = open();
    subscribe(a.conn, 'news');
    subscribe(b.conn, 'news');
    subscribe(other.conn, 'sports');
    const app = core.apps.get(APP.id)!;
    transport.broadcasts.length = 0;
    core.publish({ app, channels: [{ name: 'news', kind: classifyChannel('news')! }], event: 'headline', data: '{"n":1}', excludeSocketId: b.conn.id });
    core.publish({ app, channels: [{ name: 'news', kind: classifyChannel('news')! }], event: 'headline', data: '{"n":2}' });
    expect(events(a.socket, 'headline').map((m) => m.data)).toEqual(['{"n":1}', '{"n":2}']);
    expect(events(b.socket, 'headline').map((m) => m.data)).toEqual(['{"n":2}']);
    expect(events(other.socket, 'headline')).toEqual([]);
    // One JSON string per publish, counted once per broadcast (not per subscriber).
    expect(transport.broadcasts.map((x) => x.count)).toEqual([1, 2]);
    expect(a.socket.raw.at(-1)).toBe(b.socket.raw.at(-1));
  });

  it('answers pusher:ping with pusher:pong, and malformed JSON with pusher:error while the socket stays open', () => {
    const { conn, socket } = open();
    transport.receive(conn, { event: 'pusher:ping', data: {} });
    expect(socket.messages.at(-1)!.event).toBe('pusher:pong');
    transport.receive(conn, '{not json');
    expect(socket.messages.at(-1)!.event).toBe('pusher:error');
    expect(conn.open).toBe(true);
    transport.receive(conn, 'binary', true);
    expect(socket.messages.at(-1)).toMatchObject({ event: 'pusher:error' });
  });

  it('tells presence members about a join (not the joiner) and a leave when the socket goes away', async () => {
    const ana = open();
    const bob = open();
    subscribe(ana.conn, 'presence-room', { user_id: 'ana', user_info: { n: 'A' } });
    subscribe(bob.conn, 'presence-room', { user_id: 'bob' });
    expect(events(ana.socket, 'pusher_internal:member_added').map((m) => JSON.parse(m.data as string))).toEqual([{ user_id: 'bob' }]);
    expect(events(bob.socket, 'pusher_internal:member_added')).toEqual([]);
    const succeeded = events(bob.socket, 'pusher_internal:subscription_succeeded')[0]!;
    expect(JSON.parse(succeeded.data as string).presence.ids.sort()).toEqual(['ana', 'bob']);
    transport.hangUp(bob.conn);
    expect(events(ana.socket, 'pusher_internal:member_removed').map((m) => JSON.parse(m.data as string))).toEqual([{ user_id: 'bob' }]);
    expect(core.connections.size).toBe(1);
  });

  it("a socket on several channels gets each one's events, leaves one on unsubscribe and the rest when it goes away", () => {
    const { conn, socket } = open();
    const watcher = open();
    for (const name of ['a', 'b', 'c']) {
      subscribe(conn, name);
      subscribe(watcher.conn, name);
    }
    subscribe(conn, 'a'); // again: answered again, not a second membership
    expect(events(socket, 'pusher_internal:subscription_succeeded').map((m) => m.channel)).toEqual(['a', 'b', 'c', 'a']);
    const app = core.apps.get(APP.id)!;
    const publish = (name: string, data: string): void => void core.publish({ app, channels: [{ name, kind: classifyChannel(name)! }], event: 'e', data });
    transport.receive(conn, { event: 'pusher:unsubscribe', data: { channel: 'b' } });
    for (const name of ['a', 'b', 'c']) publish(name, name);
    expect(events(socket, 'e').map((m) => m.data)).toEqual(['a', 'c']);
    expect(transport.broadcasts.slice(-3).map((x) => x.count)).toEqual([2, 1, 2]);
    transport.hangUp(conn);
    for (const name of ['a', 'b', 'c']) publish(name, name);
    expect(transport.broadcasts.slice(-3).map((x) => x.count)).toEqual([1, 1, 1]);
    expect(core.reads.channelDetail(APP.id, 'a')?.subscriptionCount).toBe(1);
  });

  it('a channel going from one subscriber to two and back keeps its count, its deliveries and its exclusions right', () => {
    // A channel holds its one subscriber directly and a Set from the second: every step of that must look the same.
    const a = open();
    const b = open();
    const app = core.apps.get(APP.id)!;
    const publish = (data: string, excludeSocketId?: string): void =>
      void core.publish({ app, channels: [{ name: 'solo', kind: classifyChannel('solo')! }], event: 'e', data, excludeSocketId });
    const count = () => core.reads.channelDetail(APP.id, 'solo')?.subscriptionCount;
    subscribe(a.conn, 'solo');
    subscribe(a.conn, 'solo'); // again: still one subscriber
    expect(count()).toBe(1);
    publish('1');
    publish('2', a.conn.id);
    subscribe(b.conn, 'solo');
    expect(count()).toBe(2);
    publish('3', a.conn.id);
    transport.receive(a.conn, { event: 'pusher:unsubscribe', data: { channel: 'solo' } });
    expect(count()).toBe(1);
    publish('4');
    transport.hangUp(b.conn);
    expect(count()).toBeUndefined();
    expect(app.channels.has('solo')).toBe(false);
    subscribe(a.conn, 'solo');
    publish('5');
    expect(events(a.socket, 'e').map((m) => m.data)).toEqual(['1', '5']);
    expect(events(b.socket, 'e').map((m) => m.data)).toEqual(['3', '4']);
    expect(transport.broadcasts.slice(-5).map((x) => x.count)).toEqual([1, 0, 1, 1, 1]);
  });

  it('a closed socket gets nothing more, and a drain asks the rest to reconnect (4200)', async () => {
    const a = open();
    const b = open();
    subscribe(a.conn, 'news');
    subscribe(b.conn, 'news');
    transport.hangUp(a.conn);
    const app = core.apps.get(APP.id)!;
    core.publish({ app, channels: [{ name: 'news', kind: classifyChannel('news')! }], event: 'late', data: '1' });
    expect(events(a.socket, 'late')).toEqual([]);
    expect(events(b.socket, 'late')).toHaveLength(1);
    await core.drain(0);
    expect(b.socket.closeCode).toBe(4200);
    expect(core.connections.size).toBe(0);
  });
});
