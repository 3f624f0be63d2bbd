/**
 * Cluster benchmarks (figures, never pass/fail):
 * - mass takeover: N live calls on node a, a dies, b and c take them over; wall time from the
 *   lease expiry to every call resumed, calls per second, the split, wasted claims
 *   (memory and sqlite stores; simulated clock for the lease, wall clock for the work);
 * - what the lease costs: heartbeat events per node per hour;
 * - joining: a node start over a long cluster history, read whole or from the leader's snapshot (sqlite);
 * - real processes: kill -9 of the owner of a call on a shared SQLite file, time to the claim.
 * Run: node --import tsx bench/cluster-takeover.ts [--quick]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedClock } from '../src/domain/clock.ts';
import { silentLogger } from '../src/log/logger.ts';
import { MemoryEventStore } from '../src/store/memory-store.ts';
import { SqliteEventStore } from '../src/store/sqlite-store.ts';
import type { EventData, EventStore } from '../src/store/port.ts';
import { ClusterNode } from '../src/cluster/cluster-node.ts';
import type { ClusterRuntime } from '../src/cluster/node-context.ts';
import { clusterEventData, nodeStreamId, ownerStreamId } from '../src/cluster/cluster-events.ts';
import { makeCluster } from '../test/cluster/support/cluster-harness.ts';
import { NodeProcess, waitAny } from '../test/cluster/support/node-processes.ts';

const quick = process.argv.includes('--quick');
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

async function massTakeover(kind: 'memory' | 'sqlite', calls: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'voxledger-cluster-bench-'));
  const path = join(dir, 'c.db');
  const opened: EventStore[] = [];
  const open = (): EventStore => {
    const s = kind === 'memory' ? shared : new SqliteEventStore({ path });
    if (s !== shared) opened.push(s);
    return s;
  };
  const shared: EventStore = kind === 'memory' ? new MemoryEventStore() : new SqliteEventStore({ path });
  const fast = async () => {
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  };
  try {
    const c = await makeCluster(['a', 'b', 'c'], { store: shared, nodeStore: () => open(), settle: fast, script: [] });
    const ids: string[] = [];
    for (let i = 0; i < calls; i++) ids.push(c.sip.offer('a'));
    await c.advanceUntil(() => c.node('a').runtime.liveCalls().length === calls && c.node('a').cluster.ownedCalls().length === calls, 60_000, 1);
    for (let i = 0; i < 200; i++) await fast();
    const a = c.node('a');
    const expiry = a.cluster.leaseEnd;
    await a.crash();
    await c.advance(Math.max(0, expiry - c.clock.now() - 5), 50);
    const live = () => c.node('b').runtime.liveCalls().length + c.node('c').runtime.liveCalls().length;
    const t0 = performance.now();
    const simT0 = c.clock.now();
    while (live() < calls && c.clock.now() - simT0 < 10_000) {
      c.clock.advance(1);
      for (let i = 0; i < 20; i++) await fast();
    }
    const ms = performance.now() - t0;
    const split = ['b', 'c'].map((n) => c.node(n).runtime.liveCalls().length);
    const wasted = ['b', 'c'].reduce((k, n) => k + c.node(n).link.appends.filter((x) => x.streamId.startsWith('owner-') && x.outcome !== 'ok').length, 0);
    console.log(
      `  ${kind.padEnd(6)} ${fmt(calls).padStart(6)} calls: all resumed ${fmt(ms)} ms (wall) after the lease ran out = ${fmt((calls / ms) * 1000)} calls/s; ` +
        `${fmt(c.clock.now() - expiry)} simulated ms; split b/c ${split.join('/')}; wasted claims ${wasted}`,
    );
    await c.close();
  } finally {
    for (const s of opened) await s.close().catch(() => undefined);
    await shared.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function joinTime(heartbeats: number, calls: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'voxledger-cluster-bench-'));
  const store = new SqliteEventStore({ path: join(dir, 'c.db') });
  try {
    const clock = new SimulatedClock();
    const batch: Array<Promise<unknown>> = [];
    for (let i = 0; i < heartbeats; i++) {
      const ev = clusterEventData({ type: 'NodeHeartbeat', data: { nodeId: `n${i % 3}`, incarnation: 'old', leaseMs: 3000, leaseUntil: new Date(clock.now() - 60_000).toISOString() } }, clock.now(), 'x');
      batch.push(store.append(nodeStreamId(`n${i % 3}`), [ev]));
      if (batch.length >= 2000) await Promise.all(batch.splice(0));
    }
    for (let i = 0; i < calls; i++) {
      const claimed: EventData = clusterEventData({ type: 'CallClaimed', data: { nodeId: 'n0', incarnation: 'old', cause: 'started' } }, 0, 'n0', `k${i}`);
      const released: EventData = clusterEventData({ type: 'CallReleased', data: { nodeId: 'n0', incarnation: 'old', reason: 'ended' } }, 0, 'n0', `k${i}`);
      batch.push(store.append(ownerStreamId(`k${i}`), [claimed, released]));
      if (batch.length >= 2000) await Promise.all(batch.splice(0));
    }
    await Promise.all(batch);
    const runtime: ClusterRuntime = {
      onCallStarted: () => () => undefined,
      onCallEnded: () => () => undefined,
      resume: async () => {
        throw new Error('unexpected');
      },
      release: () => undefined,
      actor: () => undefined,
      start: async () => undefined,
      stop: async () => undefined,
    };
    const first = new ClusterNode({ store, clock, nodeId: 'first', log: silentLogger });
    let t0 = performance.now();
    await first.start(runtime);
    const fullMs = performance.now() - t0;
    const events = heartbeats + 2 * calls;
    console.log(`  join reading the whole history, ${fmt(events)} cluster events (${fmt(heartbeats)} heartbeats, ${fmt(calls)} ended calls): ${fmt(fullMs)} ms = ${fmt((events / fullMs) * 1000)} events/s`);
    for (let i = 0; i < 1000 && !first.isLeader; i++) await new Promise((r) => setTimeout(r, 1));
    if (!(await first.writeSnapshot())) throw new Error('the first node did not write a snapshot');
    const joiner = new ClusterNode({ store, clock, nodeId: 'joiner', log: silentLogger });
    t0 = performance.now();
    await joiner.start(runtime);
    const snapMs = performance.now() - t0;
    console.log(`  join from the leader's snapshot (same history): ${fmt(snapMs, 1)} ms`);
    await joiner.halt();
    await first.halt();
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function processTakeover(runs: number): Promise<void> {
  const times: number[] = [];
  const lateness: number[] = [];
  for (let r = 0; r < runs; r++) {
    const dir = mkdtempSync(join(tmpdir(), 'voxledger-cluster-bench-'));
    const dbPath = join(dir, 'c.db');
    await new SqliteEventStore({ path: dbPath }).close();
    const leaseMs = 1500;
    const cfg = (nodeId: string) => ({ nodeId, dbPath, leaseMs, script: [{ afterMs: 100, hangup: { hangupReason: 'bench' } }], defaults: { delayBotDisconnectMs: 3000 }, logLevel: 'silent' as const });
    const a = new NodeProcess(cfg('a'));
    const nodes = [a];
    try {
      await a.waitFor((x) => x.ev === 'ready', 20_000);
      const b = new NodeProcess(cfg('b'));
      nodes.push(b);
      await b.waitFor((x) => x.ev === 'ready', 20_000);
      const callId = `bench-${r}`;
      a.send({ cmd: 'offer', callId });
      await a.waitFor((x) => x.ev === 'answer', 5000);
      a.send({ cmd: 'stt-started', callId });
      const req = await waitAny(nodes, (x) => x.ev === 'hangup-requested', 5000);
      a.kill9();
      const killed = Date.now();
      const took = await b.waitFor((x) => x.ev === 'took-over', 10_000);
      const bye = await b.waitFor((x) => x.ev === 'bye', 10_000);
      times.push(took.at - killed);
      lateness.push(bye.at - (req.deadline as number));
    } finally {
      await Promise.allSettled(nodes.map((n) => n.stop(3000)));
      rmSync(dir, { recursive: true, force: true });
    }
  }
  times.sort((x, y) => x - y);
  console.log(`  kill -9 → claim by the survivor (lease 1,500 ms, renew 500 ms, SQLite poll 25 ms), ${runs} run(s): ${times.map((t) => `${fmt(t)} ms`).join(', ')}; BYE after its deadline: ${lateness.map((t) => `${fmt(t)} ms`).join(', ')}`);
}

console.log('cluster: mass takeover (lease 3,000 ms; a dies with N live calls; b and c take over)');
for (const kind of ['memory', 'sqlite'] as const) for (const n of quick ? [500] : [1000, 5000]) await massTakeover(kind, n);
console.log('cluster: lease cost');
for (const leaseMs of [3000, 1500]) console.log(`  leaseMs ${fmt(leaseMs)}: one heartbeat every ${fmt(leaseMs / 3)} ms = ${fmt((3600 * 1000) / (leaseMs / 3))} events per node per hour`);
console.log('cluster: join (catch-up over the node-/owner-/leader streams, sqlite)');
await joinTime(quick ? 20_000 : 250_000, quick ? 2_000 : 50_000);
console.log('cluster: real processes on one SQLite file');
await processTakeover(quick ? 1 : 3);
