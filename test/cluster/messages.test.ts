import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, type ClusterMessage } from '../../src/cluster/messages.js';
import { channelSubject, escapeToken } from '../../src/cluster/subjects.js';

describe('cluster wire messages', () => {
  it('round-trips every message type', () => {
    const ref = { from: 'n1', inc: 'abc' };
    const samples: ClusterMessage[] = [
      { t: 'publish', from: 'n1', app: 'a', channel: 'c', json: '{"event":"e"}', except: '1.2' },
      { t: 'publish', from: 'n1', app: 'a', channel: 'c', json: '{"event":"e","data":"line\none\nline two"}' },
      { ...ref, t: 'presence', app: 'a', channel: 'presence-c', op: 'join', user: 'u', info: { name: 'x' } },
      { ...ref, t: 'presence-sync', app: 'a', channel: 'presence-c', members: [['u', null]], id: 'r1', to: 'n2' },
      { ...ref, t: 'heartbeat', address: '127.0.0.1:1', load: { connections: 1, channels: 2 }, startedAt: 5, hello: true },
      { ...ref, t: 'bye' },
      { ...ref, t: 'node-down', node: 'n3', nodeInc: 'x', token: 7 },
      { ...ref, t: 'request', id: 'r2', query: { q: 'channels', app: 'a', prefix: 'presence-' } },
      { ...ref, t: 'sync-request', id: 'r3', app: 'a', channel: 'presence-c' },
      { ...ref, t: 'response', id: 'r2', to: 'n2', ok: true, answer: [] },
      { ...ref, t: 'request', id: 'r4', query: { q: 'cached-event', app: 'a', name: 'cache-c' } },
      { ...ref, t: 'user', app: 'a', op: 'online', user: 'u' },
      {
        ...ref,
        t: 'users-sync',
        users: [
          ['a', 'u'],
          ['b', 'v'],
        ],
      },
    ];
    for (const m of samples) expect(decodeMessage(encodeMessage(m))).toEqual(m);
  });

  it('drops what does not parse or check, without throwing', () => {
    for (const bad of [
      'P\nn\na\n',
      'P\n\na\nc\n\n{}',
      'P\nn\n\nc\n\n{}',
      '',
      'null',
      '[]',
      '{"t":"nope"}',
      '{"t":"publish","from":"n","app":"a","channel":"c"}',
      '{"t":"heartbeat","from":"n","inc":"i","address":"x","load":{},"startedAt":1}',
      '{"t":"request","from":"n","inc":"i","id":"1","query":{"q":"drop-tables","app":"a"}}',
      '{"t":"presence","from":"n","inc":"i","app":"a","channel":"c","op":"explode","user":"u"}',
      '{"t":"user","from":"n","inc":"i","app":"a","op":"away","user":"u"}',
      '{"t":"users-sync","from":"n","inc":"i","users":[["a"]]}',
      '{"t":"request","from":"n","inc":"i","id":"1","query":{"q":"cached-event","app":"a"}}',
    ]) {
      expect(decodeMessage(bad)).toBeNull();
    }
  });

  it('makes every channel name one safe subject token', () => {
    expect(escapeToken('private-a.b*c>d%e')).toBe('private-a%2eb%2ac%3ed%25e');
    expect(channelSubject('app.1', '#server-to-user-1')).toBe('ch.app%2e1.#server-to-user-1');
    expect(channelSubject('a', 'x.y')).not.toBe(channelSubject('a.x', 'y'));
  });
});
