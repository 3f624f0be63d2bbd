/**
 * Event store throughput: what group commit buys.
 *
 *   node --import tsx bench/store-bench.ts [--quick]
 *
 * (a) bare better-sqlite3 on the store's own schema: one big transaction without fsync (the
 *     ceiling for inserts), and single-row fsynced commits (the ceiling for commits);
 * (b) SqliteEventStore: 1,000 calls appending concurrently (durable, group commit), and the
 *     same appends one at a time — in both commit modes, side by side: on the main thread (the
 *     default) and on the commit thread (`commitThread: true`), with how busy the main event
 *     loop was;
 * (c) @event-driven-io/emmett-sqlite doing the same appends (one at a time: its store shares
 *     one connection that each append closes, so concurrent appends fail);
 * plus the memory store, for reference. Prints figures and ratios; never asserts on time.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { MemoryEventStore } from '../src/store/memory-store.ts';
import type { EventData, EventStore } from '../src/store/port.ts';
import { SqliteEventStore, type SqliteStoreOptions } from '../src/store/sqlite-store.ts';
import { SCHEMA_VERSION, openStoreDatabase } from '../src/store/sqlite-schema.ts';
import { newEventId } from '../src/store/event-id.ts';

interface Sizes {
  /** Events in the bare batched transaction. */
  bareEvents: number;
  /** Appends per call in the concurrent runs (1,000 calls). */
  appendsPerCall: number;
  /** Time budget of each one-append-at-a-time run. */
  serialMs: number;
}

const CALLS = 1000;
const FULL: Sizes = { bareEvents: 200_000, appendsPerCall: 100, serialMs: 3000 };
const QUICK: Sizes = { bareEvents: 50_000, appendsPerCall: 30, serialMs: 600 };

/** How the bench makes call ids and event ids: random (v4, what crypto.randomUUID gives) or time-ordered (v7). */
type IdScheme = 'v4' | 'v7';

function newId(scheme: IdScheme): string {
  return scheme === 'v4' ? randomUUID() : newEventId();
}

function event(callId: string, n: number, id: string = randomUUID()): EventData {
  return {
    id,
    type: 'SttFinalReceived',
    data: { text: `caller utterance number ${n}`, confidence: 0.93, language: 'en-US' },
    metadata: { callId, at: new Date(Date.UTC(2026, 0, 1) + n).toISOString(), nodeId: 'bench-node', schemaVersion: 1, correlationId: callId },
  };
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

/** (a) Inserts into the store's schema in one transaction, fsync off: the ceiling for inserts. */
function bareBatched(dir: string, count: number): number {
  const db = openStoreDatabase(join(dir, 'bare-batched.db'), 5000);
  db.pragma('synchronous = OFF');
  const createStream = db.prepare('INSERT INTO streams (stream_key, stream_id, revision, position) VALUES (?, ?, -1, -1)');
  db.transaction(() => {
    for (let k = 1; k <= CALLS; k++) createStream.run(k, `call-${randomUUID()}`);
  })();
  const insert = db.prepare('INSERT INTO events (position, stream_key, revision, id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const events = Array.from({ length: count }, (_, i) => event(`call-${i % CALLS}`, i));
  const t = process.hrtime.bigint();
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const e = events[i]!;
      insert.run(i, (i % CALLS) + 1, Math.floor(i / CALLS), e.id, e.type, JSON.stringify(e.data), JSON.stringify(e.metadata));
    }
  })();
  const rate = count / seconds(t);
  db.close();
  return rate;
}

/** (a) One row per fsynced commit, for `budgetMs`. */
function bareFsyncCommits(dir: string, budgetMs: number): number {
  const db = new Database(join(dir, 'bare-fsync.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, data TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO t (data) VALUES (?)');
  const t = process.hrtime.bigint();
  let n = 0;
  while (seconds(t) * 1000 < budgetMs) {
    insert.run('{"x":1}');
    n++;
  }
  const rate = n / seconds(t);
  db.close();
  return rate;
}

/** One call's stream and the events it will append. */
interface CallPlan {
  streamId: string;
  events: EventData[];
}

/**
 * Plans for the concurrent runs, made before the clock starts (as for the bare loop). Event ids
 * are made in the order the events will be appended (round by round), as a live runtime would.
 */
function callPlans(perCall: number, scheme: IdScheme): CallPlan[] {
  const plans = Array.from({ length: CALLS }, () => ({ streamId: `call-${newId(scheme)}`, events: new Array<EventData>(perCall) }));
  for (let i = 0; i < perCall; i++) for (const plan of plans) plan.events[i] = event(plan.streamId, i, newId(scheme));
  return plans;
}

/** Bytes this process has passed to write calls so far (Linux /proc/self/io wchar), or undefined elsewhere. */
function diskBytesWritten(): number | undefined {
  try {
    const m = /^write_bytes: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** A concurrent run's figures: the rate, and CPU and disk writes per event (less sensitive to a busy machine). */
interface ConcurrentRun {
  eventsPerS: number;
  /** CPU time of the whole process (every thread) per event. */
  cpuMicrosPerEvent: number;
  /** Share of the run's wall time the main thread's event loop was busy (not idle), 0-1. */
  mainLoopBusy: number;
  diskBytesPerEvent: number | undefined;
}

/** (b) 1,000 calls at once, each appending its events one awaited append after another. */
async function concurrentCalls(store: EventStore, plans: CallPlan[]): Promise<ConcurrentRun> {
  const events = plans.reduce((n, plan) => n + plan.events.length, 0);
  const disk = diskBytesWritten();
  const cpu = process.cpuUsage();
  const elu = performance.eventLoopUtilization();
  const t = process.hrtime.bigint();
  await Promise.all(
    plans.map(async ({ streamId, events }) => {
      let expected: number | 'no_stream' = 'no_stream';
      for (const e of events) expected = (await store.append(streamId, [e], { expectedRevision: expected })).nextExpectedRevision;
    }),
  );
  const eventsPerS = events / seconds(t);
  const used = process.cpuUsage(cpu);
  const mainLoopBusy = performance.eventLoopUtilization(elu).utilization;
  const diskAfter = diskBytesWritten();
  return {
    eventsPerS,
    cpuMicrosPerEvent: (used.user + used.system) / events,
    mainLoopBusy,
    diskBytesPerEvent: disk === undefined || diskAfter === undefined ? undefined : (diskAfter - disk) / events,
  };
}

/** Appends one event at a time, awaiting each, round-robin over 1,000 streams, for `budgetMs`. */
async function oneAtATime(append: (streamId: string, e: EventData) => Promise<unknown>, budgetMs: number): Promise<number> {
  const t = process.hrtime.bigint();
  let n = 0;
  while (seconds(t) * 1000 < budgetMs) {
    const callId = `c${n % CALLS}`;
    await append(`call-${callId}`, event(callId, n));
    n++;
  }
  return n / seconds(t);
}

interface EmmettStore {
  appendToStream(streamName: string, events: Array<{ type: string; data: Record<string, unknown>; metadata?: Record<string, unknown> }>): Promise<unknown>;
}

/** (c) emmett-sqlite, one append at a time; undefined (loudly) if it cannot be loaded. */
async function emmett(dir: string, budgetMs: number): Promise<number | undefined> {
  let getSQLiteEventStore: (options: { fileName: string }) => EmmettStore;
  try {
    ({ getSQLiteEventStore } = (await import('@event-driven-io/emmett-sqlite')) as unknown as { getSQLiteEventStore: typeof getSQLiteEventStore });
  } catch (e) {
    console.error(`\n!!! @event-driven-io/emmett-sqlite could not be loaded (its native sqlite3 dependency?): ${(e as Error).message}\n!!! skipping the emmett comparison\n`);
    return undefined;
  }
  const store = getSQLiteEventStore({ fileName: join(dir, 'emmett.db') });
  const t = process.hrtime.bigint();
  let n = 0;
  let failed = 0;
  let lastError = '';
  while (seconds(t) * 1000 < budgetMs) {
    const callId = `c${n % CALLS}`;
    const e = event(callId, n);
    try {
      await store.appendToStream(`call-${callId}`, [{ type: e.type, data: e.data as Record<string, unknown>, metadata: { ...e.metadata } }]);
      n++;
    } catch (err) {
      // emmett-sqlite shares one connection between operations and now and then trips over it.
      failed++;
      lastError = (err as Error).message;
    }
  }
  const rate = n / seconds(t);
  if (failed > 0) console.error(`\n!!! emmett-sqlite: ${failed} of ${n + failed} appends failed (last: ${lastError}); its rate counts successful appends only\n`);
  return n > 0 ? rate : undefined;
}

async function withSqliteStore<T>(
  path: string,
  fn: (store: SqliteEventStore) => Promise<T>,
  options: Omit<SqliteStoreOptions, 'path'> = {},
): Promise<{ result: T; commits: number }> {
  const store = new SqliteEventStore({ path, ...options });
  // A commit thread starts on first use (~0.2 s): start it before the clock does.
  if (store.commitThread) await store.append('bench-warm-up', [event('warm-up', 0)]);
  const commitsBefore = store.stats.commits;
  try {
    const result = await fn(store);
    return { result, commits: store.stats.commits - commitsBefore };
  } finally {
    await store.close();
  }
}

function row(name: string, value: number | undefined, unit: string, note = ''): string {
  const v = value === undefined ? 'n/a' : Math.round(value).toLocaleString('en-US');
  return `${name.padEnd(68)} ${v.padStart(12)} ${unit.padEnd(10)} ${note}`;
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

export async function runStoreBench(opts: { quick?: boolean } = {}): Promise<Record<string, number>> {
  const sizes = opts.quick ? QUICK : FULL;
  const dir = mkdtempSync(join(tmpdir(), 'voxledger-store-bench-'));
  try {
    const bareBatchedRate = bareBatched(dir, sizes.bareEvents);
    const bareFsyncRate = bareFsyncCommits(dir, sizes.serialMs);
    const concurrent = await withSqliteStore(join(dir, 'store-v4.db'), (s) => concurrentCalls(s, callPlans(sizes.appendsPerCall, 'v4')));
    const concurrentV7 = await withSqliteStore(join(dir, 'store-v7.db'), (s) => concurrentCalls(s, callPlans(sizes.appendsPerCall, 'v7')));
    const threaded = { commitThread: true };
    const concurrentThread = await withSqliteStore(join(dir, 'store-v4-thread.db'), (s) => concurrentCalls(s, callPlans(sizes.appendsPerCall, 'v4')), threaded);
    const concurrentV7Thread = await withSqliteStore(join(dir, 'store-v7-thread.db'), (s) => concurrentCalls(s, callPlans(sizes.appendsPerCall, 'v7')), threaded);
    const serialThread = await withSqliteStore(join(dir, 'store-serial-thread.db'), (s) => oneAtATime((id, e) => s.append(id, [e]), sizes.serialMs), threaded);
    const serial = await withSqliteStore(join(dir, 'store-serial.db'), (s) => oneAtATime((id, e) => s.append(id, [e]), sizes.serialMs));
    const memory = new MemoryEventStore();
    const memoryRun = await concurrentCalls(memory, callPlans(sizes.appendsPerCall, 'v4'));
    await memory.close();
    const emmettRate = await emmett(dir, sizes.serialMs);

    const concurrentEvents = CALLS * sizes.appendsPerCall;
    const results: Record<string, number> = {
      bare_batched_events_per_s: bareBatchedRate,
      bare_fsync_commits_per_s: bareFsyncRate,
      sqlite_store_concurrent_events_per_s: concurrent.result.eventsPerS,
      sqlite_store_concurrent_events_per_commit: concurrentEvents / concurrent.commits,
      sqlite_store_concurrent_cpu_us_per_event: concurrent.result.cpuMicrosPerEvent,
      sqlite_store_concurrent_v7_ids_events_per_s: concurrentV7.result.eventsPerS,
      sqlite_store_concurrent_v7_ids_cpu_us_per_event: concurrentV7.result.cpuMicrosPerEvent,
      sqlite_store_one_at_a_time_events_per_s: serial.result,
      sqlite_store_concurrent_main_loop_busy_percent: concurrent.result.mainLoopBusy * 100,
      sqlite_store_concurrent_v7_ids_main_loop_busy_percent: concurrentV7.result.mainLoopBusy * 100,
      commit_thread_concurrent_events_per_s: concurrentThread.result.eventsPerS,
      commit_thread_concurrent_events_per_commit: concurrentEvents / concurrentThread.commits,
      commit_thread_concurrent_cpu_us_per_event: concurrentThread.result.cpuMicrosPerEvent,
      commit_thread_concurrent_main_loop_busy_percent: concurrentThread.result.mainLoopBusy * 100,
      commit_thread_concurrent_v7_ids_events_per_s: concurrentV7Thread.result.eventsPerS,
      commit_thread_concurrent_v7_ids_cpu_us_per_event: concurrentV7Thread.result.cpuMicrosPerEvent,
      commit_thread_concurrent_v7_ids_main_loop_busy_percent: concurrentV7Thread.result.mainLoopBusy * 100,
      commit_thread_one_at_a_time_events_per_s: serialThread.result,
      memory_store_concurrent_events_per_s: memoryRun.eventsPerS,
    };
    const disk = { v4: concurrent.result.diskBytesPerEvent, v7: concurrentV7.result.diskBytesPerEvent };
    if (disk.v4 !== undefined) results.sqlite_store_concurrent_disk_bytes_per_event = disk.v4;
    if (disk.v7 !== undefined) results.sqlite_store_concurrent_v7_ids_disk_bytes_per_event = disk.v7;
    const ratios = {
      vsEmmett: ratio(concurrent.result.eventsPerS, emmettRate),
      vsBare: ratio(concurrent.result.eventsPerS, bareBatchedRate),
      v7VsEmmett: ratio(concurrentV7.result.eventsPerS, emmettRate),
      v7VsBare: ratio(concurrentV7.result.eventsPerS, bareBatchedRate),
    };
    if (emmettRate !== undefined) results.emmett_sqlite_events_per_s = emmettRate;
    if (ratios.vsEmmett !== undefined) results.ratio_store_vs_emmett = ratios.vsEmmett;
    if (ratios.vsBare !== undefined) results.ratio_store_vs_bare_batched = ratios.vsBare;
    if (ratios.v7VsEmmett !== undefined) results.ratio_store_v7_ids_vs_emmett = ratios.v7VsEmmett;
    if (ratios.v7VsBare !== undefined) results.ratio_store_v7_ids_vs_bare_batched = ratios.v7VsBare;
    const percent = (r: number | undefined) => (r === undefined ? undefined : r * 100);
    const costs = (run: ConcurrentRun) =>
      `${run.cpuMicrosPerEvent.toFixed(1)} µs CPU${run.diskBytesPerEvent === undefined ? '' : `, ${(run.diskBytesPerEvent / 1024).toFixed(2)} KiB written`} per event`;

    console.log(`\nevent store throughput${opts.quick ? ' (quick)' : ''}; schema v${SCHEMA_VERSION}, WAL, files in ${tmpdir()}`);
    console.log(row('bare better-sqlite3, one transaction, no fsync', bareBatchedRate, 'events/s', `${sizes.bareEvents.toLocaleString('en-US')} events`));
    console.log(row('bare better-sqlite3, one row per fsynced commit', bareFsyncRate, 'commits/s'));
    console.log(
      row(
        `SqliteEventStore, ${CALLS} calls concurrently, random ids (durable)`,
        concurrent.result.eventsPerS,
        'events/s',
        `${concurrentEvents.toLocaleString('en-US')} events, ${Math.round(concurrentEvents / concurrent.commits)} per commit; ${costs(concurrent.result)}`,
      ),
    );
    console.log(
      row(`SqliteEventStore, ${CALLS} calls concurrently, time-ordered ids (durable)`, concurrentV7.result.eventsPerS, 'events/s', `ids from newEventId(); ${costs(concurrentV7.result)}`),
    );
    console.log(row('SqliteEventStore, one append at a time (durable)', serial.result, 'events/s'));
    console.log('commit mode side by side (same run): main thread (default) | commit thread (commitThread: true)');
    const sideBySide = (what: string, main: number, thread: number, unit: string) =>
      console.log(
        `  ${what.padEnd(66)} ${Math.round(main).toLocaleString('en-US').padStart(10)} | ${Math.round(thread).toLocaleString('en-US').padStart(10)} ${unit.padEnd(9)} ×${(thread / main).toFixed(2)}`,
      );
    sideBySide(`${CALLS} calls concurrently, time-ordered ids (durable)`, concurrentV7.result.eventsPerS, concurrentV7Thread.result.eventsPerS, 'events/s');
    sideBySide(`${CALLS} calls concurrently, random ids (durable)`, concurrent.result.eventsPerS, concurrentThread.result.eventsPerS, 'events/s');
    sideBySide('one append at a time (durable)', serial.result, serialThread.result, 'events/s');
    sideBySide('time-ordered ids: main event loop busy', concurrentV7.result.mainLoopBusy * 100, concurrentV7Thread.result.mainLoopBusy * 100, '%');
    sideBySide('time-ordered ids: CPU per event, all threads (µs × 10)', concurrentV7.result.cpuMicrosPerEvent * 10, concurrentV7Thread.result.cpuMicrosPerEvent * 10, 'µs/10');
    sideBySide('time-ordered ids: events per commit', concurrentEvents / concurrentV7.commits, concurrentEvents / concurrentV7Thread.commits, 'events');
    console.log(row(`MemoryEventStore, ${CALLS} calls concurrently`, memoryRun.eventsPerS, 'events/s'));
    console.log(row('emmett-sqlite 0.38.5, one append at a time (durable)', emmettRate, 'events/s', emmettRate === undefined ? 'NOT LOADED' : ''));
    console.log(row('ratio: store (random ids) / emmett-sqlite', ratios.vsEmmett, '×', 'target >= 30'));
    console.log(row('ratio: store (random ids) / bare batched', percent(ratios.vsBare), '%', 'target >= 50 %'));
    console.log(row('ratio: store (time-ordered ids) / emmett-sqlite', ratios.v7VsEmmett, '×'));
    console.log(row('ratio: store (time-ordered ids) / bare batched', percent(ratios.v7VsBare), '%'));
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runStoreBench({ quick: process.argv.includes('--quick') });
}
