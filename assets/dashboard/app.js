// The live dashboard: one EventSource on /dashboard/stream (history once, then a
// snapshot and a chart point per tick), tables rebuilt from each snapshot, uPlot
// charts fed from the points. Plain browser JavaScript: nothing is built at runtime.

const CSRF = { 'x-switchboard-dashboard': '1' };
const HISTORY_POINTS = 600;
const COLORS = ['#60a5fa', '#34d399', '#fbbf24', '#f472b6', '#a78bfa', '#f87171', '#22d3ee', '#fb923c'];

const $ = (id) => document.getElementById(id);
const text = (value) => document.createTextNode(value === undefined || value === null ? '–' : String(value));

function cell(row, value, className) {
  const td = document.createElement('td');
  td.appendChild(text(value));
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function replaceRows(tbody, rows) {
  tbody.replaceChildren(...rows);
}

const fmt = {
  int: (n) => (typeof n === 'number' ? Math.round(n).toLocaleString('en') : undefined),
  pct: (n) => (typeof n === 'number' ? `${(n * 100).toFixed(1)}%` : undefined),
  mib: (n) => (typeof n === 'number' ? `${(n / 1048576).toFixed(1)} MiB` : undefined),
  ms: (n) => (typeof n === 'number' ? `${n.toFixed(n < 10 ? 2 : 0)} ms` : undefined),
};

// What a node reports under which name (heartbeat load, or this node's own sample).
const field = {
  connections: (load) => load.connections,
  channels: (load) => load.channels,
  elu: (load) => load.elu ?? load.eventLoopUtilization,
  cpu: (load) => load.cpu ?? load.processCpu,
  delay: (load) => load.eventLoopDelayP99Ms ?? load.loopDelayP99Ms,
  rss: (load) => load.rssBytes,
  heap: (load) => load.heapUsedBytes,
  rtt: (load) => load.brokerRttMs,
};

// ---- charts ------------------------------------------------------------------

class NodeChart {
  constructor(elementId, pick, scale) {
    this.element = $(elementId);
    this.pick = pick;
    this.scale = scale ?? ((v) => v);
    this.nodeIds = [];
    this.times = [];
    this.values = new Map();
    this.plot = null;
  }

  reset(points) {
    this.times = [];
    this.values = new Map();
    for (const point of points) this.add(point, false);
    this.redraw(true);
  }

  add(point, draw = true) {
    this.times.push(point.at / 1000);
    const ids = new Set([...this.values.keys(), ...Object.keys(point.nodes)]);
    for (const id of ids) {
      if (!this.values.has(id)) this.values.set(id, new Array(this.times.length - 1).fill(null));
      const raw = point.nodes[id] ? this.pick(point.nodes[id]) : undefined;
      this.values.get(id).push(typeof raw === 'number' ? this.scale(raw) : null);
    }
    if (this.times.length > HISTORY_POINTS) {
      this.times.shift();
      for (const series of this.values.values()) series.shift();
    }
    if (draw) this.redraw(false);
  }

  redraw(force) {
    if (typeof uPlot === 'undefined') return;
    const ids = [...this.values.keys()].filter((id) => this.values.get(id).some((v) => v !== null));
    const data = [this.times, ...ids.map((id) => this.values.get(id))];
    if (this.plot === null || force || ids.join('\n') !== this.nodeIds.join('\n')) {
      this.nodeIds = ids;
      this.plot?.destroy();
      this.plot = new uPlot(
        {
          width: Math.max(300, this.element.clientWidth || 420),
          height: 180,
          series: [{}, ...ids.map((id, i) => ({ label: id, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: false }))],
          axes: [
            { stroke: '#8b95a5', grid: { stroke: '#2a3340' } },
            { stroke: '#8b95a5', grid: { stroke: '#2a3340' }, size: 60 },
          ],
          legend: { show: true },
        },
        data,
        this.element,
      );
      return;
    }
    this.plot.setData(data);
  }
}

const charts = [
  new NodeChart('chart-connections', field.connections),
  new NodeChart('chart-elu', field.elu),
  new NodeChart('chart-cpu', field.cpu),
  new NodeChart('chart-memory', field.rss, (v) => v / 1048576),
  new NodeChart('chart-delay', field.delay),
];

// This node's message rates: two series of one node, drawn by the same chart class.
const messagesChart = new NodeChart('chart-messages', (v) => v.value);
function messagePoint(point) {
  return { at: point.at, nodes: { in: { value: point.messagesInPerSec }, out: { value: point.messagesOutPerSec } } };
}

// ---- snapshot → tables ---------------------------------------------------------

let selectedApp = null;

function renderSnapshot(s) {
  const cluster = s.cluster;
  $('cluster-line').textContent =
    `node ${cluster.nodeId} · ${cluster.adapter} (${cluster.link}${cluster.degraded ? ', degraded' : ''}) · leader ${cluster.leader ?? 'none'} · ${new Date(s.at).toLocaleTimeString()}`;
  $('total-nodes').textContent = String(cluster.nodes.length);
  $('total-connections').textContent = fmt.int(cluster.nodes.reduce((sum, n) => sum + (field.connections(n.load) ?? 0), 0));
  $('rate-in').textContent = fmt.int(s.activity.messagesInPerSec);
  $('rate-out').textContent = fmt.int(s.activity.messagesOutPerSec);
  $('latency-p99').textContent = fmt.ms(s.activity.publishToWriteP99Ms) ?? '–';

  replaceRows(
    $('nodes').tBodies[0],
    cluster.nodes.map((n) => {
      const row = document.createElement('tr');
      row.dataset.nodeId = n.id;
      const state = [n.self ? 'this node' : null, n.leader ? 'leader' : null, n.load.state ?? null].filter(Boolean).join(', ') || 'member';
      cell(row, n.id);
      cell(row, n.address);
      cell(row, state, n.leader ? 'state-leader' : '');
      cell(row, fmt.int(field.connections(n.load)), 'connections');
      cell(row, fmt.int(field.channels(n.load)));
      cell(row, fmt.pct(field.cpu(n.load)));
      cell(row, fmt.pct(field.elu(n.load)));
      cell(row, fmt.ms(field.delay(n.load)));
      cell(row, fmt.mib(field.rss(n.load)));
      cell(row, fmt.mib(field.heap(n.load)));
      cell(row, fmt.ms(field.rtt(n.load)));
      cell(row, n.self ? 'now' : `${(n.lastSeenMs / 1000).toFixed(1)} s ago`, n.lastSeenMs > 3000 ? 'state-stale' : '');
      return row;
    }),
  );

  const alerts = Array.isArray(s.alerts) ? s.alerts : [];
  replaceRows(
    $('alerts'),
    alerts.length === 0
      ? [Object.assign(document.createElement('li'), { className: 'muted', textContent: 'none' })]
      : alerts.map((a) => {
          const li = document.createElement('li');
          li.className = a.level === 'critical' ? 'alert-critical' : 'alert-warn';
          li.textContent = `${a.level ?? ''} ${a.signal ?? a.name ?? ''} ${a.node ? `on ${a.node}` : ''}: ${a.value ?? ''}${a.threshold !== undefined ? ` (threshold ${a.threshold})` : ''}${a.since ? ` since ${new Date(a.since).toLocaleTimeString()}` : ''}`;
          return li;
        }),
  );
  $('scaling').textContent = s.scaling === null || s.scaling === undefined ? 'no advice yet' : describeScaling(s.scaling);

  replaceRows(
    $('top-channels').tBodies[0],
    s.topChannels.map((c) => {
      const row = document.createElement('tr');
      cell(row, c.appId);
      cell(row, c.name);
      cell(row, fmt.int(c.subscriptionCount));
      cell(row, fmt.int(c.userCount));
      return row;
    }),
  );

  replaceRows(
    $('apps').tBodies[0],
    s.apps.map((a) => {
      const row = document.createElement('tr');
      row.className = 'clickable';
      row.dataset.appId = a.id;
      cell(row, a.id);
      cell(row, a.name);
      cell(row, a.enabled ? 'yes' : 'no');
      cell(row, fmt.int(a.connections));
      cell(row, fmt.int(a.channels));
      row.addEventListener('click', () => showApp(a.id));
      return row;
    }),
  );

  const select = $('console-app');
  const ids = s.apps.map((a) => a.id);
  if ([...select.options].map((o) => o.value).join('\n') !== ids.join('\n')) {
    const keep = select.value;
    select.replaceChildren(...ids.map((id) => Object.assign(document.createElement('option'), { value: id, textContent: id })));
    if (ids.includes(keep)) select.value = keep;
  }
}

function describeScaling(advice) {
  if (typeof advice !== 'object') return String(advice);
  const parts = [];
  if (advice.desired !== undefined) parts.push(`desired ${advice.desired} node(s)`);
  if (advice.current !== undefined) parts.push(`current ${advice.current}`);
  if (advice.reason) parts.push(advice.reason);
  return parts.length > 0 ? parts.join(' · ') : JSON.stringify(advice);
}

// ---- app detail -----------------------------------------------------------------

async function getJson(path) {
  const response = await fetch(path, { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
  return response.json();
}

async function showApp(appId) {
  selectedApp = appId;
  $('app-detail').hidden = false;
  $('members').hidden = true;
  $('app-detail-title').textContent = `Channels of ${appId}`;
  const { channels } = await getJson(`/dashboard/api/apps/${encodeURIComponent(appId)}/channels`);
  if (selectedApp !== appId) return;
  replaceRows(
    $('app-channels').tBodies[0],
    channels.map((c) => {
      const row = document.createElement('tr');
      cell(row, c.name);
      cell(row, fmt.int(c.subscriptionCount));
      cell(row, fmt.int(c.userCount));
      if (c.name.startsWith('presence-')) {
        row.className = 'clickable';
        row.addEventListener('click', () => showMembers(appId, c.name));
      }
      return row;
    }),
  );
}

async function showMembers(appId, channel) {
  const { users } = await getJson(`/dashboard/api/apps/${encodeURIComponent(appId)}/channels/${encodeURIComponent(channel)}/users`);
  $('members').hidden = false;
  $('members-title').textContent = `Members of ${channel} (${users.length})`;
  replaceRows(
    $('members-list'),
    users.map((u) => Object.assign(document.createElement('li'), { textContent: u.id })),
  );
}

// ---- debug console ----------------------------------------------------------------

$('console').addEventListener('submit', async (event) => {
  event.preventDefault();
  const status = $('console-status');
  const appId = $('console-app').value;
  const body = { name: $('console-event').value, channel: $('console-channel').value, data: $('console-data').value };
  status.textContent = 'publishing…';
  try {
    const response = await fetch(`/dashboard/api/apps/${encodeURIComponent(appId)}/events`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { ...CSRF, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = await response.text();
    status.textContent = response.ok ? `published ${body.name} to ${body.channel}` : `refused (${response.status}): ${answer}`;
  } catch (err) {
    status.textContent = `failed: ${err.message}`;
  }
});

let watching = null;
$('watch-button').addEventListener('click', () => {
  const button = $('watch-button');
  if (watching !== null) {
    watching.close();
    watching = null;
    button.textContent = 'Watch channel';
    return;
  }
  const appId = $('console-app').value;
  const channel = $('console-channel').value;
  if (!appId || !channel) {
    $('console-status').textContent = 'choose an app and a channel to watch';
    return;
  }
  const log = $('watch-log');
  log.replaceChildren();
  watching = new EventSource(`/dashboard/api/apps/${encodeURIComponent(appId)}/channels/${encodeURIComponent(channel)}/watch`);
  watching.addEventListener('open', () => {
    $('console-status').textContent = `watching ${channel}`;
  });
  watching.addEventListener('channel-event', (e) => {
    const li = document.createElement('li');
    li.textContent = `${new Date().toLocaleTimeString()} ${e.data}`;
    log.prepend(li);
    while (log.children.length > 200) log.lastChild.remove();
  });
  button.textContent = 'Stop watching';
});

$('logout').addEventListener('click', async () => {
  await fetch('/dashboard/logout', { method: 'POST', credentials: 'same-origin', headers: CSRF });
  location.reload();
});

// ---- the feed -----------------------------------------------------------------------

function connectFeed() {
  const feed = new EventSource('/dashboard/stream');
  const pill = $('feed-state');
  feed.addEventListener('open', () => {
    pill.textContent = 'live';
    pill.classList.add('live');
  });
  feed.addEventListener('error', () => {
    pill.textContent = 'reconnecting';
    pill.classList.remove('live');
  });
  feed.addEventListener('history', (e) => {
    const points = JSON.parse(e.data);
    for (const chart of charts) chart.reset(points);
    messagesChart.reset(points.map(messagePoint));
  });
  feed.addEventListener('point', (e) => {
    const point = JSON.parse(e.data);
    for (const chart of charts) chart.add(point);
    messagesChart.add(messagePoint(point));
  });
  feed.addEventListener('snapshot', (e) => renderSnapshot(JSON.parse(e.data)));
}

connectFeed();
