/**
 * Runtime benchmarks (figures and ratios, never pass/fail):
 * - full call lifecycles per second through actor + store + notifier, on a simulated clock with
 *   in-process signaling and a bot that hangs up at once (memory and sqlite stores; sqlite with
 *   commits on the main thread, the default, and on the commit thread, side by side);
 * - heap per live idle call (calls answered and talking to a bot that never hangs up);
 * - CDR rebuild, events per second (sqlite and memory).
 * Run: npm run bench   (or node --expose-gc --import tsx bench/runtime-bench.ts [--quick])
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedClock } from '../src/domain/clock.ts';
import { MemoryEventStore } from '../src/store/memory-store.ts';
import { SqliteEventStore } from '../src/store/sqlite-store.ts';
import type { EventStore } from '../src/store/port.ts';
import { InProcessSignaling } from '../src/sip/in-process/in-process-signaling.ts';
import { ScriptedBotConnector, type ScriptStep } from '../src/bots/scripted/scripted-connector.ts';
import { BotDirectory } from '../src/bots/directory.ts';
import { CallRuntime } from '../src/runtime/runtime.ts';
import { BotNotifier } from '../src/runtime/bot-notifier.ts';
import { silentLogger } from '../src/log/logger.ts';
import { rebuild } from '../projections/runner.ts';
import { cdrProjection } from '../projections/cdr.ts';
import { simulate } from '../src/cli/simulate.ts';

const tick = () => new Promise((r) => setImmediate(r));

function makeRuntime(store: EventStore, script: ScriptStep[]) {
  const clock = new SimulatedClock(Date.UTC(2026, 10, 21));
  const sip = new InProcessSignaling();
  const bot = new ScriptedBotConnector({ script }, clock);
  const bots = new BotDirectory([{ id: 'b', provider: 'scripted', connector: bot, defaults: { botOperationResult: 'success' } }]);
  const runtime = new CallRuntime({ store, clock, nodeId: 'bench', log: silentLogger, bots, signaling: sip, route: () => 'b' });
  return { clock, sip, bot, bots, runtime };
}

/** N calls, `concurrency` at a time: offer → answer → bot start → hangup → BYE → CallEnded → bot notified. */
export async function lifecycles(store: EventStore, calls: number, concurrency: number): Promise<{ perSecond: number; events: number }> {
  const { clock, sip, bots, runtime } = makeRuntime(store, [{ afterMs: 0, hangup: { hangupReason: 'done', hangupSipHeaders: [{ name: 'X-A', value: '1' }] } }]);
  await runtime.start();
  const notifier = new BotNotifier({ store, bots, clock, log: silentLogger, nodeId: 'bench' });
  await notifier.start();
  let ended = 0;
  runtime.onCallEnded(() => void ended++);
  const t0 = performance.now();
  let started = 0;
  while (ended < calls) {
    while (started < calls && started - ended < concurrency) sip.peer.offer({ callId: `c${started++}`, to: '1' });
    await tick();
    clock.advance(1);
  }
  await notifier.drain();
  const ms = performance.now() - t0;
  await notifier.close();
  await runtime.stop();
  return { perSecond: (calls / ms) * 1000, events: (await store.headPosition()) + 1 };
}

/** Heap per live idle call: `n` calls answered and talking to a bot that says nothing. */
export async function heapPerIdleCall(n: number): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return NaN;
  const store = new MemoryEventStore();
  const { sip, runtime } = makeRuntime(store, []);
  await runtime.start();
  // Warm up code paths so that only per-call state is measured.
  for (let i = 0; i < 200; i++) sip.peer.offer({ callId: `w${i}`, to: '1' });
  for (let i = 0; i < 20; i++) await tick();
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) {
    sip.peer.offer({ callId: `idle${i}`, to: '1' });
    if (i % 500 === 0) await tick();
  }
  for (let i = 0; i < 50; i++) await tick();
  gc();
  const after = process.memoryUsage().heapUsed;
  const live = runtime.liveCalls().length;
  await runtime.stop();
  // The events of those calls sit in the memory store too; they are counted (a real store keeps them on disk).
  return (after - before) / Math.max(1, live - 200);
}

export async function cdrRebuild(store: EventStore): Promise<{ eventsPerSecond: number; events: number; calls: number }> {
  const { state, stats } = await rebuild(store, cdrProjection);
  return { eventsPerSecond: (stats.events / stats.ms) * 1000, events: stats.events, calls: state.size };
}

export async function runRuntimeBench(opts: { quick?: boolean } = {}): Promise<Record<string, number>> {
  const N = opts.quick ? 2_000 : 20_000;
  const dir = mkdtempSync(join(tmpdir(), 'voxledger-runtime-bench-'));
  const out: Record<string, number> = {};
  try {
    const mem = await lifecycles(new MemoryEventStore(), N, 1000);
    out['lifecycles/s (memory store)'] = mem.perSecond;
    const sq = new SqliteEventStore({ path: join(dir, 'lifecycles.db') });
    const sql = await lifecycles(sq, N, 1000);
    out['lifecycles/s (sqlite store, durable)'] = sql.perSecond;
    out['events per lifecycle'] = sql.events / N;
    await sq.close();
    // The same on a store that commits on its worker thread (started before the clock starts).
    const sqt = new SqliteEventStore({ path: join(dir, 'lifecycles-thread.db'), commitThread: true });
    await sqt.append('bench-warm-up', [{ id: randomUUID(), type: 'WarmUp', data: {}, metadata: { callId: 'warm-up', at: new Date(0).toISOString(), nodeId: 'bench', schemaVersion: 1 } }]);
    out['lifecycles/s (sqlite store, durable, commit thread)'] = (await lifecycles(sqt, N, 1000)).perSecond;
    out['lifecycles/s ratio: commit thread / main-thread commit'] = out['lifecycles/s (sqlite store, durable, commit thread)'] / sql.perSecond;
    await sqt.close();

    out['heap bytes per live idle call (events in memory store included)'] = await heapPerIdleCall(opts.quick ? 2_000 : 10_000);

    const fill = new SqliteEventStore({ path: join(dir, 'cdr.db') });
    await simulate({ store: fill, calls: opts.quick ? 2_000 : 20_000, seed: 42, log: silentLogger });
    const r = await cdrRebuild(fill);
    out['CDR rebuild events/s (sqlite)'] = r.eventsPerSecond;
    out['CDR rebuild events'] = r.events;
    const memFill = new MemoryEventStore();
    for (const e of await fill.readAll({})) await memFill.append(e.streamId, [{ id: e.id, type: e.type, data: e.data, metadata: e.metadata }]);
    out['CDR rebuild events/s (memory)'] = (await cdrRebuild(memFill)).eventsPerSecond;
    await fill.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

export function printTable(title: string, rows: Record<string, number>, targets: Record<string, string> = {}): void {
  console.log(`\n## ${title}`);
  for (const [k, v] of Object.entries(rows)) {
    const val = Number.isNaN(v) ? 'n/a (run with --expose-gc)' : v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2);
    console.log(`${k.padEnd(66)} ${val.padStart(14)}${targets[k] ? `   target ${targets[k]}` : ''}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  printTable('runtime', await runRuntimeBench({ quick }), {
    'lifecycles/s (sqlite store, durable)': '>= 5,000',
    'lifecycles/s (sqlite store, durable, commit thread)': '>= 5,000',
    'heap bytes per live idle call (events in memory store included)': '<= 20,480',
    'CDR rebuild events/s (sqlite)': '>= 200,000',
  });
}
