import type { ClusterQuery } from './messages.js';

import type { CachedEvent, ChannelDetail, LocalReads } from '../core/local-reads.js';

export type { CachedEvent, ChannelDetail };

/** This node's answer to a query from a peer. */
export function answerQuery(local: LocalReads, query: ClusterQuery): unknown {
  switch (query.q) {
    case 'channels':
      return local.channelDetails(query.app, query.prefix);
    case 'channel':
      return local.channelDetail(query.app, query.name) ?? null;
    case 'channels-named':
      return local.channelDetailsNamed(query.app, query.names);
    case 'cached':
      return local.hasCachedEvent(query.app, query.name);
    case 'cached-event':
      return local.cachedEvent(query.app, query.name) ?? null;
    case 'presence-users':
      return local.presenceUserIds(query.app, query.name);
    case 'terminate-user':
      return local.terminateUser(query.app, query.user);
  }
}

// Answers come from other processes: each is checked before it is merged.

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

function isChannelDetail(v: unknown): v is ChannelDetail {
  if (typeof v !== 'object' || v === null) return false;
  const d = v as Record<string, unknown>;
  return typeof d.name === 'string' && typeof d.subscriptionCount === 'number' && (d.userIds === undefined || isStringArray(d.userIds));
}

/** Sum subscriptions and unite users of the same channel as seen by several nodes. */
export function mergeChannelDetails(lists: ReadonlyArray<readonly ChannelDetail[]>): Map<string, { subscriptionCount: number; users?: Set<string> }> {
  const merged = new Map<string, { subscriptionCount: number; users?: Set<string> }>();
  for (const list of lists) {
    for (const detail of list) {
      let entry = merged.get(detail.name);
      if (entry === undefined) merged.set(detail.name, (entry = { subscriptionCount: 0 }));
      entry.subscriptionCount += detail.subscriptionCount;
      if (detail.userIds !== undefined) {
        const users = (entry.users ??= new Set());
        for (const id of detail.userIds) users.add(id);
      }
    }
  }
  return merged;
}

/** Remote `channels` answers that are well-formed. */
export function channelListsFrom(answers: readonly unknown[]): ChannelDetail[][] {
  return answers.filter((a): a is ChannelDetail[] => Array.isArray(a) && a.every(isChannelDetail));
}

/** Remote `channel` answers that name an occupied channel. */
export function channelDetailsFrom(answers: readonly unknown[]): ChannelDetail[] {
  return answers.filter(isChannelDetail);
}

function isCachedEvent(v: unknown): v is CachedEvent {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return typeof e.json === 'string' && typeof e.ageMs === 'number' && Number.isFinite(e.ageMs) && e.ageMs >= 0;
}

/**
 * The youngest of the well-formed `cached-event` answers and `local`: every
 * node stores an event when it publishes or receives it, so the youngest
 * copy is the channel's last event (ages are relative, no clocks compared).
 */
export function youngestCachedEvent(answers: readonly unknown[], local: CachedEvent | undefined): CachedEvent | undefined {
  let best = local;
  for (const answer of answers) if (isCachedEvent(answer) && (best === undefined || answer.ageMs < best.ageMs)) best = answer;
  return best;
}

export function userIdListsFrom(answers: readonly unknown[]): string[][] {
  return answers.filter(isStringArray);
}

export function anyTrue(answers: readonly unknown[]): boolean {
  return answers.some((a) => a === true);
}
