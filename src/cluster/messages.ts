/**
 * What nodes say to each other: one discriminated union on `t`, JSON on the
 * wire, checked field by field when it arrives (a bad message is dropped,
 * never trusted past this module).
 */

/** Load a node reports in its heartbeats (for `GET /cluster` and scaling advice). */
export interface NodeLoad {
  connections: number;
  channels: number;
  /** From the node's monitor (src/monitor); absent when it is off, which scaling advice reads as a missing metric. */
  elu?: number;
  /** Process CPU in cores over the last interval. */
  cpu?: number;
  connectionLimit?: number;
  /** Memory and event-loop delay of the last monitor interval, and the broker round trip: for the dashboard's per-node charts. */
  rssBytes?: number;
  heapUsedBytes?: number;
  loopDelayP99Ms?: number;
  brokerRttMs?: number;
  state?: 'starting' | 'ready' | 'draining';
  /** The leader's scaling advice, so that every node can answer `GET /cluster/scaling`. */
  scaling?: ScalingSummary;
}

export interface ScalingSummary {
  desired: number;
  current: number;
  reason: string;
  computedAt: string;
}

/** Identifies a node and one run of it: a restart under the same id is a new incarnation. */
interface NodeRef {
  from: string;
  inc: string;
}

export type ClusterQuery =
  | { q: 'channels'; app: string; prefix?: string }
  | { q: 'channel'; app: string; name: string }
  /** Several channels at once (a trigger's `info`): the occupied ones here. */
  | { q: 'channels-named'; app: string; names: string[] }
  | { q: 'cached'; app: string; name: string }
  /** The cache channel's last event here with its age; the asker keeps the youngest answer. */
  | { q: 'cached-event'; app: string; name: string }
  | { q: 'presence-users'; app: string; name: string }
  | { q: 'terminate-user'; app: string; user: string };

type PublishMessage = { t: 'publish'; from: string; app: string; channel: string; json: string; except?: string };
export type PresenceChange = NodeRef & { t: 'presence'; app: string; channel: string; op: 'join' | 'leave'; user: string; info?: unknown };
/** A node's full member list for a channel: an answer to `id` (addressed `to` one node) or, without them, for everyone. */
export type PresenceSync = NodeRef & { t: 'presence-sync'; app: string; channel: string; members: Array<[string, unknown]>; id?: string; to?: string };
/** A user's first socket on a node signed in ('online') or its last one there left ('offline'). */
export type UserChange = NodeRef & { t: 'user'; app: string; op: 'online' | 'offline'; user: string };
/**
 * Every user signed in on a node, as [app, user id] pairs: replaces what the
 * others knew of that node. A long list comes in `parts` messages of one
 * `round`, numbered from 0 by `part` (all three absent: one message).
 */
export type UsersSync = NodeRef & { t: 'users-sync'; users: Array<[string, string]>; round?: string; part?: number; parts?: number };
/** A node's subscriber count for a channel of a replicated app (0: none left there). */
export type SubscribersChange = NodeRef & { t: 'subs'; app: string; channel: string; n: number };
/** A replicated app's cache channel was found empty by a subscriber ('miss') or got an event again ('filled'). */
type CacheChange = NodeRef & { t: 'cache'; app: string; channel: string; op: 'miss' | 'filled' };
/** One channel of a node's share: [app, channel, subscribers, members (presence) or null]. */
export type ShareTuple = [string, string, number, Array<[string, unknown]> | null];
/**
 * Everything a node holds of the replicated apps' channels: replaces what
 * the others knew of that node. Travels in parts like UsersSync.
 */
export type SharesSync = NodeRef & { t: 'shares-sync'; shares: ShareTuple[]; round?: string; part?: number; parts?: number };
export type Heartbeat = NodeRef & { t: 'heartbeat'; address: string; load: NodeLoad; startedAt: number; hello?: boolean };
type Goodbye = NodeRef & { t: 'bye' };
/** The leader's verdict that a node is dead, with its fencing token. */
type NodeDown = NodeRef & { t: 'node-down'; node: string; nodeInc: string; token: number };
/** Ask every node for its local state; presence sync requests are answered on the channel's subject. */
type ClusterRequest = NodeRef & { t: 'request'; id: string; query: ClusterQuery };
export type PresenceSyncRequest = NodeRef & { t: 'sync-request'; id: string; app: string; channel: string };
/** An app changed in the app store (by a node's admin API or the CLI): every node drops its cached copy; `keys` are the keys it had and has. */
type AppChange = { t: 'app-changed'; from: string; app: string; keys: string[] };
type ClusterResponse = NodeRef & { t: 'response'; id: string; to: string; ok: boolean; answer?: unknown };

export type ClusterMessage =
  | PublishMessage
  | PresenceChange
  | PresenceSync
  | UserChange
  | UsersSync
  | SubscribersChange
  | CacheChange
  | SharesSync
  | Heartbeat
  | Goodbye
  | NodeDown
  | ClusterRequest
  | PresenceSyncRequest
  | ClusterResponse
  | AppChange;

/**
 * Publishes are the hot path: they travel as newline-separated fields with
 * the event's JSON last and untouched, so neither side escapes or parses
 * it (ids and channel names cannot contain a newline). Everything else is JSON.
 */
const PUBLISH_TAG = 'P\n';

export function encodeMessage(message: ClusterMessage): string {
  if (message.t === 'publish') return `${PUBLISH_TAG}${message.from}\n${message.app}\n${message.channel}\n${message.except ?? ''}\n${message.json}`;
  return JSON.stringify(message);
}

/** The start of every publish sent by `nodeId`: lets a node drop its own echoes without decoding them. */
export function publishPrefix(nodeId: string): string {
  return `${PUBLISH_TAG}${nodeId}\n`;
}

function decodePublish(payload: string): PublishMessage | null {
  const a = payload.indexOf('\n', PUBLISH_TAG.length);
  const b = a === -1 ? -1 : payload.indexOf('\n', a + 1);
  const c = b === -1 ? -1 : payload.indexOf('\n', b + 1);
  const d = c === -1 ? -1 : payload.indexOf('\n', c + 1);
  if (d === -1 || a === PUBLISH_TAG.length || b === a + 1 || c === b + 1) return null;
  const except = payload.slice(c + 1, d);
  const message: PublishMessage = {
    t: 'publish',
    from: payload.slice(PUBLISH_TAG.length, a),
    app: payload.slice(a + 1, b),
    channel: payload.slice(b + 1, c),
    json: payload.slice(d + 1),
  };
  if (except !== '') message.except = except;
  return message;
}

type Fields = Record<string, unknown>;

const isString = (v: unknown): v is string => typeof v === 'string';
const isOptionalString = (v: unknown): boolean => v === undefined || typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function hasRef(m: Fields): boolean {
  return isString(m.from) && isString(m.inc);
}

function isQuery(v: unknown): v is ClusterQuery {
  if (typeof v !== 'object' || v === null) return false;
  const q = v as Fields;
  if (!isString(q.app)) return false;
  switch (q.q) {
    case 'channels':
      return isOptionalString(q.prefix);
    case 'channels-named':
      return Array.isArray(q.names) && q.names.length <= 1000 && q.names.every(isString);
    case 'channel':
    case 'cached':
    case 'cached-event':
    case 'presence-users':
      return isString(q.name);
    case 'terminate-user':
      return isString(q.user);
    default:
      return false;
  }
}

function isMemberList(v: unknown): v is Array<[string, unknown]> {
  return Array.isArray(v) && v.every((e) => Array.isArray(e) && e.length === 2 && isString(e[0]));
}

/** No round fields, or all three with 0 <= part < parts. */
function isPartOfRound(m: Fields): boolean {
  if (m.round === undefined && m.part === undefined && m.parts === undefined) return true;
  return isString(m.round) && Number.isInteger(m.parts) && Number.isInteger(m.part) && (m.part as number) >= 0 && (m.part as number) < (m.parts as number);
}

function isUserPairs(v: unknown): v is Array<[string, string]> {
  return Array.isArray(v) && v.every((e) => Array.isArray(e) && e.length === 2 && isString(e[0]) && isString(e[1]));
}

function isShareTuples(v: unknown): v is ShareTuple[] {
  return (
    Array.isArray(v) &&
    v.every(
      (e) =>
        Array.isArray(e) &&
        e.length === 4 &&
        isString(e[0]) &&
        isString(e[1]) &&
        Number.isInteger(e[2]) &&
        (e[2] as number) >= 0 &&
        (e[3] === null || isMemberList(e[3])),
    )
  );
}

function isLoad(v: unknown): v is NodeLoad {
  if (typeof v !== 'object' || v === null) return false;
  const l = v as Fields;
  return (
    isNumber(l.connections) &&
    isNumber(l.channels) &&
    optional(l.elu, isNumber) &&
    optional(l.cpu, isNumber) &&
    optional(l.connectionLimit, isNumber) &&
    optional(l.rssBytes, isNumber) &&
    optional(l.heapUsedBytes, isNumber) &&
    optional(l.loopDelayP99Ms, isNumber) &&
    optional(l.brokerRttMs, isNumber) &&
    optional(l.state, (s) => s === 'starting' || s === 'ready' || s === 'draining') &&
    optional(l.scaling, isScalingSummary)
  );
}

function isScalingSummary(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Fields;
  return isNumber(s.desired) && isNumber(s.current) && isString(s.reason) && isString(s.computedAt);
}

function optional(v: unknown, check: (v: unknown) => boolean): boolean {
  return v === undefined || check(v);
}

// The checks above are the proof that the fields have the union member's types.
function accept<T extends ClusterMessage>(ok: boolean, m: Fields): T | null {
  return ok ? (m as unknown as T) : null;
}

/** Parse and check one payload; null when it is not a message we understand. */
export function decodeMessage(payload: string): ClusterMessage | null {
  if (payload.startsWith(PUBLISH_TAG)) return decodePublish(payload);
  let m: Fields;
  try {
    const parsed: unknown = JSON.parse(payload);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
    m = parsed as Fields;
  } catch {
    return null;
  }
  switch (m.t) {
    case 'presence':
      return accept<PresenceChange>(hasRef(m) && isString(m.app) && isString(m.channel) && (m.op === 'join' || m.op === 'leave') && isString(m.user), m);
    case 'presence-sync':
      return accept<PresenceSync>(
        hasRef(m) && isString(m.app) && isString(m.channel) && isMemberList(m.members) && isOptionalString(m.id) && isOptionalString(m.to),
        m,
      );
    case 'user':
      return accept<UserChange>(hasRef(m) && isString(m.app) && (m.op === 'online' || m.op === 'offline') && isString(m.user), m);
    case 'users-sync':
      return accept<UsersSync>(hasRef(m) && isUserPairs(m.users) && isPartOfRound(m), m);
    case 'subs':
      return accept<SubscribersChange>(hasRef(m) && isString(m.app) && isString(m.channel) && Number.isInteger(m.n) && (m.n as number) >= 0, m);
    case 'cache':
      return accept<CacheChange>(hasRef(m) && isString(m.app) && isString(m.channel) && (m.op === 'miss' || m.op === 'filled'), m);
    case 'shares-sync':
      return accept<SharesSync>(hasRef(m) && isShareTuples(m.shares) && isPartOfRound(m), m);
    case 'heartbeat':
      return accept<Heartbeat>(hasRef(m) && isString(m.address) && isLoad(m.load) && isNumber(m.startedAt), m);
    case 'bye':
      return accept<Goodbye>(hasRef(m), m);
    case 'node-down':
      return accept<NodeDown>(hasRef(m) && isString(m.node) && isString(m.nodeInc) && isNumber(m.token), m);
    case 'request':
      return accept<ClusterRequest>(hasRef(m) && isString(m.id) && isQuery(m.query), m);
    case 'sync-request':
      return accept<PresenceSyncRequest>(hasRef(m) && isString(m.id) && isString(m.app) && isString(m.channel), m);
    case 'app-changed':
      return accept<AppChange>(isString(m.from) && isString(m.app) && Array.isArray(m.keys) && m.keys.length <= 10 && m.keys.every(isString), m);
    case 'response':
      return accept<ClusterResponse>(hasRef(m) && isString(m.id) && isString(m.to) && typeof m.ok === 'boolean', m);
    default:
      return null;
  }
}
