import { spawn } from 'node:child_process';
import Pusher from 'pusher';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../cluster/services.js';
import { builtCliAvailable, CLI } from '../cluster/node-process.js';
import { DEV_APP, pusherClient } from '../helpers/node.js';
import type { RunningNode } from '../../src/node.js';
import { alive, SupervisorProcess, TrackedSubscriber, type Published, type SupervisorStatus } from './harness.js';

const built = builtCliAvailable();
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Poll the supervisor's status until `check` holds (generous: the machine may be busy). */
async function untilStatus(sup: SupervisorProcess, check: (s: SupervisorStatus) => boolean, ms: number, what: string): Promise<SupervisorStatus> {
  const deadline = Date.now() + ms;
  for (;;) {
    const status = await sup.status();
    if (status !== null && check(status)) return status;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last status ${JSON.stringify(status)}\n${sup.tail()}`);
    await sleep(200);
  }
}

const eventsText = (s: SupervisorStatus): string => s.events.map((e) => `${e.at.slice(11, 23)} ${e.event}/${e.cause} → ${e.nodes}: ${e.reason}`).join('\n  ');

const allReady = (s: SupervisorStatus, n: number): boolean => s.running === n && s.nodes.length === n && s.nodes.every((node) => node.state === 'ready');

describe.skipIf(!built)('switchboard cluster', () => {
  it('scales 1 → 2 → 3 under a bench ramp, restarts a killed node, back to 1 when the load stops; subscribers through the balancer miss nothing while connected', {
    timeout: 150_000,
  }, async () => {
    const port = await freePort();
    const sup = new SupervisorProcess(
      port,
      [
        '--min',
        '1',
        '--max',
        '3',
        '--log-level',
        'info',
        // Low targets and short windows: the rule is the production one, the numbers are the test's.
        '--scaling-target-connections',
        '10',
        '--scaling-target-elu',
        '0',
        '--scaling-stabilization-seconds',
        '4',
        '--supervisor-interval',
        '0.3',
        '--supervisor-scale-up-cooldown',
        '1',
        '--supervisor-scale-down-cooldown',
        '1',
        '--drain-seconds',
        '1',
        '--heartbeat-interval',
        '0.3',
        '--node-timeout',
        '3',
        '--monitor-interval-ms',
        '300',
      ],
      { SWITCHBOARD_BALANCER_SLOW_START: '1', SWITCHBOARD_BALANCER_HEALTH_INTERVAL: '0.5', SWITCHBOARD_BALANCER_HEALTH_FAST_INTERVAL: '0.1' },
    );
    cleanups.push(() => sup.stop());
    const started = Date.now();
    const t = (): string => `${((Date.now() - started) / 1000).toFixed(1)} s`;
    await untilStatus(sup, (s) => allReady(s, 1), 30_000, 'the first node');

    // Nodes over time, sampled from GET /supervisor: the report's timeline.
    const timeline: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      let last = '';
      while (sampling) {
        const s = await sup.status();
        if (s !== null) {
          const line = s.nodes.map((n) => `${n.slot}:${n.state}(${n.connections})`).join(' ');
          if (line !== last) timeline.push(`${t()}  ${s.running} running  ${line}`);
          last = line;
        }
        await sleep(250);
      }
    })();
    cleanups.push(async () => {
      sampling = false;
      await sampler;
    });

    // Subscribers through the balancer for the whole test, and a publisher through it too.
    const subscribe = (): TrackedSubscriber => new TrackedSubscriber(pusherClient({ port } as RunningNode), 'feed');
    const subscribers = Array.from({ length: 4 }, subscribe);
    for (const s of subscribers) cleanups.push(() => s.client.disconnect());
    const sdk = new Pusher({ appId: DEV_APP.id, key: DEV_APP.key, secret: DEV_APP.secret, host: '127.0.0.1', port: String(port), useTLS: false });
    const deadline = Date.now() + 20_000;
    while (!subscribers.every((s) => s.subscribed)) {
      if (Date.now() > deadline) throw new Error('subscribers did not subscribe');
      await sleep(50);
    }
    const published: Published[] = [];
    let publishing = true;
    let failedPublishes = 0;
    const publisher = (async () => {
      for (let n = 1; publishing; n++) {
        const sentAt = Date.now();
        try {
          const res = await sdk.trigger('feed', 'seq', { n });
          if (res.status === 200) published.push({ n, sentAt, ackedAt: Date.now() });
          else failedPublishes++;
        } catch {
          failedPublishes++;
        }
        await sleep(100);
      }
    })();
    cleanups.push(async () => {
      publishing = false;
      await publisher;
    });

    // The load: a bounded `switchboard bench` ramp of connections through the balancer, stopped by the test.
    const bench = spawn(
      process.execPath,
      [
        CLI,
        'bench',
        'connections',
        '--url',
        `ws://127.0.0.1:${port}`,
        '--connections',
        '36',
        '--pattern',
        'ramp',
        '--from',
        '3',
        '--to',
        '8',
        '--duration',
        '90s',
        '--warmup',
        '0',
        '--workers',
        '0',
        '--no-metrics',
        '--quiet',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let benchOutput = '';
    bench.stdout.on('data', (d: Buffer) => (benchOutput += d.toString()));
    bench.stderr.on('data', (d: Buffer) => (benchOutput += d.toString()));
    const benchExited = new Promise<void>((resolve) => bench.once('exit', () => resolve()));
    cleanups.push(async () => {
      bench.kill('SIGKILL');
      await benchExited;
    });

    const two = await untilStatus(sup, (s) => s.running >= 2, 60_000, '2 nodes');
    const three = await untilStatus(sup, (s) => allReady(s, 3), 60_000, '3 ready nodes');
    // A second group lands on the newer nodes (the first is all on node 0), so that a scale-down drain moves subscribers too.
    const later = Array.from({ length: 4 }, subscribe);
    for (const s of later) cleanups.push(() => s.client.disconnect());
    subscribers.push(...later);
    await untilStatus(sup, () => later.every((s) => s.subscribed), 20_000, 'the second group subscribed');
    const ups = three.events.filter((e) => e.event === 'scale-up');
    // One step at a time: 1 → 2, then 2 → 3, each for the advice's reason.
    expect(
      ups.map((e) => e.nodes),
      eventsText(three),
    ).toEqual([2, 3]);
    expect(ups.every((e) => e.cause === 'advice' && /connections: average/.test(e.reason))).toBe(true);
    expect(two.running).toBe(2);

    // kill -9 the busiest node: the supervisor restarts it, and its clients come back through the balancer.
    const victim = [...three.nodes].sort((a, b) => b.connections - a.connections)[0]!;
    const killedAt = Date.now();
    process.kill(victim.pid!, 'SIGKILL');
    const restarted = await untilStatus(
      sup,
      (s) => allReady(s, 3) && s.events.some((e) => e.event === 'restart' && e.slot === victim.slot),
      30_000,
      `node ${victim.slot} restarted`,
    );
    const crash = restarted.events.find((e) => e.event === 'crash' && e.slot === victim.slot);
    expect(crash?.reason).toMatch(/signal SIGKILL/);
    expect(restarted.nodes.find((n) => n.slot === victim.slot)!.pid).not.toBe(victim.pid);

    // The load stops: after the stabilization window, one step at a time back to 1.
    bench.kill('SIGTERM');
    await benchExited;
    const one = await untilStatus(sup, (s) => allReady(s, 1), 60_000, 'back to 1 node');
    const downs = one.events.filter((e) => e.event === 'scale-down');
    expect(
      downs.map((e) => e.nodes),
      `${eventsText(one)}\n  ${timeline.join('\n  ')}`,
    ).toEqual([2, 1]);
    expect(downs.every((e) => e.cause === 'advice' && /least loaded/.test(e.reason))).toBe(true);
    // The drained nodes' processes are gone.
    for (const pid of three.nodes.map((n) => n.pid!).filter((pid) => !one.nodes.some((n) => n.pid === pid))) expect(alive(pid)).toBe(false);

    // Every subscriber is back and receives what is published now.
    await untilStatus(sup, () => subscribers.every((s) => s.subscribed), 20_000, 'subscribers resubscribed');
    const lastBefore = published.at(-1)?.n ?? 0;
    const lastDeadline = Date.now() + 15_000;
    while (!subscribers.every((s) => [...s.received].some((n) => n > lastBefore + 5))) {
      if (Date.now() > lastDeadline) throw new Error('no deliveries after the scale-down');
      await sleep(50);
    }
    publishing = false;
    await publisher;
    await sleep(1000);

    // Every message published while a subscriber was connected and subscribed arrived (500 ms grace at a
    // connection's end: one in flight when its node closed it or died); what was missed in between is reported.
    const report = subscribers.map((s, i) => ({ i, reconnects: s.reconnects, ...s.audit(published, 500, killedAt), received: s.received.size }));
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const final = (await sup.status()) ?? one;
    console.log(
      [
        `[supervisor test] nodes over time:\n  ${timeline.join('\n  ')}`,
        `[supervisor test] events:\n  ${eventsText(final)}`,
        `[supervisor test] published ${published.length} (failed ${failedPublishes}); per subscriber:`,
        ...report.map(
          (r) =>
            `  #${r.i}: ${r.reconnects} reconnects, received ${r.received}, owed while connected ${r.owed}, missed while connected ${r.missed.length}, missed during reconnects ${r.duringReconnects.length} ${JSON.stringify(r.duringReconnects)}`,
        ),
        `[supervisor test] bench: ${benchOutput.trim().split('\n').slice(0, 3).join(' | ')}`,
      ].join('\n'),
    );
    for (const r of report) {
      // How long after the kill -9 a client on that node saw its connection end (then reconnected through the balancer).
      const sub = subscribers[r.i]!;
      const noticed = sub.periods.filter((w) => sub.lostAtKill(w, killedAt)).map((w) => w.to - killedAt);
      if (noticed.length > 0) console.log(`  #${r.i} noticed the kill after ${noticed.join(', ')} ms`);
      for (const g of sub.gaps(published, killedAt))
        console.log(`  #${r.i} reconnect after ${g.cause === 'kill' ? 'kill -9' : 'close (drain)'}: ${g.ms} ms without a subscription, ${g.missed} missed`);
      for (const n of r.missed) {
        const p = published.find((x) => x.n === n)!;
        console.log(`  #${r.i} missed ${n} while connected: sent ${p.sentAt - killedAt} ms, acked ${p.ackedAt - killedAt} ms after the kill`);
      }
    }
    for (const r of report) expect(r.missed, `subscriber ${r.i} missed messages while connected`).toEqual([]);
    expect(report.reduce((sum, r) => sum + r.reconnects, 0)).toBeGreaterThan(0);
    expect(metrics).toMatch(/switchboard_supervisor_events_total\{event="scale-up",cause="advice"\} 2/);
    expect(metrics).toMatch(/switchboard_supervisor_events_total\{event="scale-down",cause="advice"\} 2/);
    expect(metrics).toMatch(/switchboard_supervisor_events_total\{event="restart",cause="crash"\} 1/);

    // SIGTERM drains the last node and exits 0; no node process is left.
    const lastPid = one.nodes[0]!.pid!;
    const exit = await sup.stop();
    expect(exit.code).toBe(0);
    expect(alive(lastPid)).toBe(false);
  });
});
