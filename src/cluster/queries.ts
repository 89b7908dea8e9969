import type { ClusterQuery } from './messages.js';

/** One channel as a node sees it locally; presence channels carry their user ids so counts can be merged. */
export interface ChannelDetail {
  name: string;
  subscriptionCount: number;
  userIds?: string[];
}

/** The local state a node answers cluster queries from (implemented by the core). */
export interface LocalQueries {
  channelDetails(appId: string, prefix?: string): ChannelDetail[];
  channelDetail(appId: string, name: string): ChannelDetail | undefined;
  hasCachedEvent(appId: string, name: string): boolean;
  presenceUserIds(appId: string, name: string): string[];
  /** Close the user's sockets on this node; returns how many. */
  terminateUser(appId: string, userId: string): number;
}

/** This node's answer to a query from a peer. */
export function answerQuery(local: LocalQueries, query: ClusterQuery): unknown {
  switch (query.q) {
    case 'channels':
      return local.channelDetails(query.app, query.prefix);
    case 'channel':
      return local.channelDetail(query.app, query.name) ?? null;
    case 'cached':
      return local.hasCachedEvent(query.app, query.name);
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

export function userIdListsFrom(answers: readonly unknown[]): string[][] {
  return answers.filter(isStringArray);
}

export function anyTrue(answers: readonly unknown[]): boolean {
  return answers.some((a) => a === true);
}

export function sumNumbers(answers: readonly unknown[]): number {
  return answers.reduce<number>((sum, a) => sum + (typeof a === 'number' && Number.isFinite(a) ? a : 0), 0);
}
