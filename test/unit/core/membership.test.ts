import { describe, expect, it, vi } from 'vitest';
import { AppMembership, LOCAL_NODE, type ShareAnnouncer } from '../../../src/core/membership.js';
import { AppWebhooks } from '../../../src/core/webhook-events.js';
import type { WebhookEvent, WebhookSink } from '../../../src/webhooks/types.js';

/** A model whose transitions are written down in order. */
function recorded(): { model: AppMembership; log: string[] } {
  const model = new AppMembership();
  const log: string[] = [];
  model.observe({
    channelOccupied: (c) => log.push(`occupied ${c}`),
    channelVacated: (c) => log.push(`vacated ${c}`),
    memberAdded: (c, u) => log.push(`added ${c} ${u}`),
    memberRemoved: (c, u) => log.push(`removed ${c} ${u}`),
    userOnline: (u) => log.push(`online ${u}`),
    userOffline: (u) => log.push(`offline ${u}`),
    subscriptionCountChanged: (c, n) => log.push(`count ${c} ${n}`),
  });
  return { model, log };
}

describe('AppMembership: one decision per cluster-wide transition', () => {
  it('occupies a channel on its first node and vacates it with its last, counting subscribers across nodes', () => {
    const { model, log } = recorded();
    model.setSubscribers(LOCAL_NODE, 'c', 1, false);
    model.setSubscribers('b', 'c', 3, false);
    model.setSubscribers(LOCAL_NODE, 'c', 2, false);
    model.setSubscribers(LOCAL_NODE, 'c', 0, false);
    expect(model.isOccupied('c')).toBe(true);
    model.setSubscribers('b', 'c', 0, false);
    expect(log).toEqual(['occupied c', 'count c 1', 'count c 4', 'count c 5', 'count c 3', 'vacated c', 'count c 0']);
    expect(model.isOccupied('c')).toBe(false);
  });

  it('adds a member on the first node that has them and removes them with the last', () => {
    const { model, log } = recorded();
    model.memberJoined('b', 'presence-x', 'ana', { n: 1 });
    model.memberJoined(LOCAL_NODE, 'presence-x', 'ana', { n: 1 });
    model.memberJoined('c', 'presence-x', 'ana', { n: 1 });
    model.memberLeft('b', 'presence-x', 'ana');
    model.memberLeft(LOCAL_NODE, 'presence-x', 'ana');
    expect(model.isMemberElsewhere('presence-x', 'ana')).toBe(true);
    model.memberLeft('c', 'presence-x', 'ana');
    expect(log).toEqual(['added presence-x ana', 'removed presence-x ana']);
    expect(model.memberCount('presence-x')).toBe(0);
  });

  it('drops a dead node: one removal per user it alone held, one vacate per channel it alone occupied', () => {
    const { model, log } = recorded();
    model.setSubscribers('dead', 'presence-x', 2, true);
    model.memberJoined('dead', 'presence-x', 'ana', {});
    model.memberJoined('dead', 'presence-x', 'bob', {});
    model.setSubscribers(LOCAL_NODE, 'presence-x', 1, true);
    model.memberJoined(LOCAL_NODE, 'presence-x', 'bob', {});
    model.setSubscribers('dead', 'alone', 1, false);
    model.signedIn('dead', 'ana');
    log.length = 0;
    model.dropNode('dead');
    model.dropNode('dead'); // a second verdict changes nothing
    expect(log.filter((l) => !l.startsWith('count'))).toEqual(['removed presence-x ana', 'vacated alone', 'offline ana']);
    expect([...model.members('presence-x')]).toEqual([['bob', {}]]);
  });

  it('replaces a node’s share with a full list, announcing only the differences', () => {
    const { model, log } = recorded();
    model.replaceChannels('b', [
      { channel: 'presence-x', subs: 1, members: [['ana', {}]] },
      { channel: 'y', subs: 2 },
    ]);
    log.length = 0;
    model.replaceChannels('b', [
      {
        channel: 'presence-x',
        subs: 2,
        members: [
          ['ana', {}],
          ['bob', {}],
        ],
      },
    ]);
    expect(log).toEqual(['vacated y', 'count y 0', 'added presence-x bob', 'count presence-x 2']);
  });

  it('tells the cluster about this node’s share only, never about what it heard from others', () => {
    const model = new AppMembership();
    const said: string[] = [];
    const announcer: ShareAnnouncer = {
      watch: (c, p) => said.push(`watch ${c} ${p}`),
      unwatch: (c) => said.push(`unwatch ${c}`),
      subscribers: (c, n) => said.push(`subs ${c} ${n}`),
      memberJoined: (c, u) => said.push(`join ${c} ${u}`),
      memberLeft: (c, u) => said.push(`leave ${c} ${u}`),
      userSignedIn: (u) => said.push(`in ${u}`),
      userSignedOut: (u) => said.push(`out ${u}`),
      cacheChanged: (c, missed) => said.push(`cache ${c} ${missed}`),
    };
    model.announceTo(announcer);
    model.setSubscribers('b', 'presence-x', 1, true);
    model.memberJoined('b', 'presence-x', 'ana', {});
    model.signedIn('b', 'ana');
    expect(said).toEqual([]);
    model.setSubscribers(LOCAL_NODE, 'presence-x', 1, true);
    model.memberJoined(LOCAL_NODE, 'presence-x', 'bob', {});
    model.signedIn(LOCAL_NODE, 'bob');
    model.memberLeft(LOCAL_NODE, 'presence-x', 'bob');
    model.setSubscribers(LOCAL_NODE, 'presence-x', 0, true);
    expect(said).toEqual([
      'watch presence-x true',
      'subs presence-x 1',
      'join presence-x bob',
      'in bob',
      'leave presence-x bob',
      'subs presence-x 0',
      'unwatch presence-x',
    ]);
  });

  it('forgets what others have of a channel it stopped receiving, without announcing transitions', () => {
    const { model, log } = recorded();
    model.memberJoined('b', 'presence-x', 'ana', {});
    log.length = 0;
    model.forgetRemote('presence-x');
    expect(log).toEqual([]);
    expect(model.memberCount('presence-x')).toBe(0);
    model.memberJoined('b', 'presence-x', 'ana', {});
    expect(log).toEqual(['added presence-x ana']);
  });
});

describe('AppWebhooks: the leave delay and who sends', () => {
  function setup(sends = true): { model: AppMembership; events: WebhookEvent[]; hooks: AppWebhooks } {
    const model = new AppMembership();
    const events: WebhookEvent[] = [];
    const sink: WebhookSink = { wants: () => true, emit: (_app, e) => events.push(e) };
    const hooks = new AppWebhooks('app', model, sink, { leaveDelayMs: 3000, countsSubscriptions: true, sends: () => sends, keepUnsentMs: 20_000 });
    model.observe(hooks);
    return { model, events, hooks };
  }

  it('sends nothing for a leave and return within the delay (a page refresh)', () => {
    vi.useFakeTimers();
    try {
      const { model, events } = setup();
      model.setSubscribers(LOCAL_NODE, 'presence-x', 1, true);
      model.memberJoined(LOCAL_NODE, 'presence-x', 'ana', {});
      model.memberLeft(LOCAL_NODE, 'presence-x', 'ana');
      model.setSubscribers(LOCAL_NODE, 'presence-x', 0, true);
      vi.advanceTimersByTime(2000);
      model.setSubscribers(LOCAL_NODE, 'presence-x', 1, true);
      model.memberJoined(LOCAL_NODE, 'presence-x', 'ana', {});
      vi.advanceTimersByTime(10_000);
      expect(events.map((e) => e.name)).toEqual(['channel_occupied', 'member_added']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('sends the leave once the delay has passed and the state is still gone', () => {
    vi.useFakeTimers();
    try {
      const { model, events } = setup();
      model.setSubscribers('b', 'presence-x', 1, true);
      model.memberJoined('b', 'presence-x', 'ana', {});
      model.dropNode('b');
      vi.advanceTimersByTime(2999);
      expect(events.map((e) => e.name)).toEqual(['channel_occupied', 'member_added']);
      vi.advanceTimersByTime(1);
      expect(events.slice(2)).toEqual([
        { name: 'member_removed', channel: 'presence-x', user_id: 'ana' },
        { name: 'channel_vacated', channel: 'presence-x' },
      ]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('computes the transitions but sends none on a node that is not the sender', () => {
    const { model, events } = setup(false);
    model.setSubscribers(LOCAL_NODE, 'c', 1, false);
    expect(events).toEqual([]);
  });

  it('keeps what a non-sender computed, and sends what came after the old leader was last seen when it takes over', () => {
    const model = new AppMembership();
    const events: WebhookEvent[] = [];
    let leader = false;
    const sink: WebhookSink = { wants: () => true, emit: (_app, e) => events.push(e) };
    const hooks = new AppWebhooks('app', model, sink, { leaveDelayMs: 0, countsSubscriptions: false, sends: () => leader, keepUnsentMs: 20_000 });
    model.observe(hooks);
    model.setSubscribers('b', 'before', 1, false);
    const lastSeen = Date.now();
    while (Date.now() === lastSeen); // the next millisecond: after the old leader's last heartbeat
    model.setSubscribers('b', 'gap', 1, false);
    expect(events).toEqual([]);
    leader = true;
    hooks.takeOver(lastSeen);
    expect(events).toEqual([{ name: 'channel_occupied', channel: 'gap' }]);
    hooks.takeOver(0); // once only
    expect(events).toHaveLength(1);
  });

  it('sends one cache_miss per empty spell, and again after the cache was filled', () => {
    const { hooks, events } = setup();
    hooks.cacheMiss('cache-x');
    hooks.cacheMiss('cache-x');
    hooks.cacheFilled('cache-x');
    hooks.cacheMiss('cache-x');
    expect(events).toEqual([
      { name: 'cache_miss', channel: 'cache-x' },
      { name: 'cache_miss', channel: 'cache-x' },
    ]);
  });

  it('coalesces subscription counts: the latest count of a turn, at most once per 5 s above 100 subscribers', () => {
    vi.useFakeTimers();
    try {
      const { model, events } = setup();
      model.setSubscribers(LOCAL_NODE, 'c', 1, false);
      model.setSubscribers(LOCAL_NODE, 'c', 2, false);
      vi.advanceTimersByTime(1);
      expect(events.filter((e) => e.name === 'subscription_count')).toEqual([{ name: 'subscription_count', channel: 'c', subscription_count: 2 }]);
      for (let n = 150; n < 160; n++) {
        model.setSubscribers(LOCAL_NODE, 'c', n, false);
        vi.advanceTimersByTime(400);
      }
      // 4 s of changes above 100: still inside the 5 s window of the last one sent.
      expect(events.filter((e) => e.name === 'subscription_count')).toHaveLength(1);
      vi.advanceTimersByTime(5000);
      const counts = events.filter((e) => e.name === 'subscription_count');
      expect(counts).toHaveLength(2);
      expect(counts[1]).toEqual({ name: 'subscription_count', channel: 'c', subscription_count: 159 });
    } finally {
      vi.useRealTimers();
    }
  });
});
