/**
 * SQLite-specific store tests (files, locks, group commit, several instances on one file), run
 * once per commit mode: sqlite.test.ts runs them on the main thread (the default),
 * sqlite-commit-thread.test.ts with `commitThread: true`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, renameSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ErrorCodes } from '../../src/domain/errors.ts';
import { SqliteEventStore, type SqliteStoreOptions } from '../../src/store/sqlite-store.ts';
import { SCHEMA_VERSION } from '../../src/store/sqlite-schema.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { RecordedEvent } from '../../src/store/port.ts';
import { runStoreConformance } from './conformance.ts';
import { ev, evs, rejectsWith, sleep, waitUntil } from './conformance/helpers.ts';
import { ResilientStore } from '../../src/cluster/resilient-store.ts';
import { createLogger } from '../../src/log/logger.ts';
import { systemClock } from '../../src/domain/clock.ts';
import type { VoxError } from '../../src/domain/errors.ts';

/** The options that select a commit mode: `{}` (main thread) or `{ commitThread: true }`. */
export type SqliteMode = Pick<SqliteStoreOptions, 'commitThread'>;

/** A temporary folder for this test file's databases (removed after the file's tests). */
export function tempFiles(): () => string {
  const root = mkdtempSync(join(tmpdir(), 'voxledger-sqlite-test-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  let files = 0;
  return () => join(root, `store-${files++}.db`);
}

/** The conformance suite and the SQLite-specific tests, for stores opened in `mode`. */
export function sqliteStoreCases(name: string, mode: SqliteMode): void {
  const freshPath = tempFiles();
  const open = (options: SqliteStoreOptions): SqliteEventStore => new SqliteEventStore({ ...options, ...mode });

  runStoreConformance(name, async () => {
    const store = open({ path: freshPath(), pollIntervalMs: 20 });
    return { store, cleanup: () => store.close() };
  });

  /** Overwrites `length` bytes at `offset` of the file with 0xee. */
  function scribble(path: string, offset: number, length: number): void {
    const fd = openSync(path, 'r+');
    try {
      writeSync(fd, Buffer.alloc(length, 0xee), 0, length, offset);
    } finally {
      closeSync(fd);
    }
  }

  describe(`${name} event store: file behaviour`, () => {
    it('acknowledged appends survive close and reopen, with revisions and positions intact', async () => {
      const path = freshPath();
      const first = open({ path });
      const written = await Promise.all(Array.from({ length: 50 }, (_, i) => first.append(`call-${i % 5}`, evs(2))));
      const before = await first.readAll();
      await first.close();
      const again = open({ path });
      try {
        assert.deepEqual(await again.readAll(), before);
        assert.equal(await again.headPosition(), Math.max(...written.map((r) => r.position)));
        const next = await again.append('call-0', evs(1), { expectedRevision: 19 });
        assert.equal(next.nextExpectedRevision, 20);
        assert.ok(next.position > (await again.headPosition()) - 1);
      } finally {
        await again.close();
      }
    });

    it('close writes appends already accepted before resolving', async () => {
      const path = freshPath();
      const store = open({ path });
      const pending = Array.from({ length: 10 }, (_, i) => store.append(`s-${i}`, evs(1)));
      await store.close();
      await Promise.all(pending);
      const reopened = open({ path });
      try {
        assert.equal((await reopened.readAll()).length, 10);
      } finally {
        await reopened.close();
      }
    });

    it('a file that is not a database is STORE_CORRUPT, naming the file', () => {
      const path = freshPath();
      writeFileSync(path, Buffer.alloc(8192, 7));
      assert.throws(
        () => open({ path }),
        (e: { code?: string; message?: string }) => e.code === ErrorCodes.STORE_CORRUPT && e.message!.includes(path),
      );
    });

    it('a store whose folder is deleted while open (rm -rf data/) refuses commits with STORE_UNAVAILABLE, and the node holds call events loudly', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'voxledger-rm-rf-'));
      const path = join(dir, 'voxledger.db');
      const lost: VoxError[] = [];
      const store = open({ path, onFileLost: (e) => lost.push(e) });
      const lines: string[] = [];
      const keepAlive = setInterval(() => undefined, 1_000); // the system clock's timers are unref'd
      const resilient = new ResilientStore(store, { clock: systemClock, log: createLogger({ level: 'warn', sink: (l) => lines.push(l) }), retryBudgetMs: 50, closeDrainMs: 50 });
      try {
        await store.append('call-a', evs(2));
        rmSync(dir, { recursive: true, force: true });
        const err = await rejectsWith(store.append('call-a', evs(1), { expectedRevision: 1 }), ErrorCodes.STORE_UNAVAILABLE);
        assert.match(err.message, /deleted while open/);
        assert.ok(err.message.includes(path), 'names the file');
        await rejectsWith(store.append('other', evs(1)), ErrorCodes.STORE_UNAVAILABLE);
        assert.equal(lost.length, 1, 'told once');
        assert.ok(store.stats.fileLostBatches >= 2);
        // Through the node's ResilientStore: a call event is held (acknowledged, not durable) and said so at error level.
        await resilient.append('call-a', evs(1), { expectedRevision: 1 });
        assert.equal(resilient.heldEvents, 1);
        assert.ok(lines.some((l) => JSON.parse(l).level === 'error' && /NOT YET DURABLE/.test(l)), lines.join('\n'));
      } finally {
        await resilient.close().catch(() => undefined);
        clearInterval(keepAlive);
        rmSync(dir, { recursive: true, force: true });
      }
      assert.ok(lines.some((l) => /events not recorded in the event store/i.test(l)), 'held events logged in full when the node closes');
    });

    it('a store whose file is replaced while open (renamed over) refuses commits into either file; the new file is untouched', async () => {
      const path = freshPath();
      const other = freshPath();
      const store = open({ path });
      const replacement = open({ path: other });
      await replacement.append('kept', evs(1));
      await replacement.close();
      try {
        await store.append('s', evs(1));
        renameSync(other, path);
        const err = await rejectsWith(store.append('s', evs(1), { expectedRevision: 0 }), ErrorCodes.STORE_UNAVAILABLE);
        assert.match(err.message, /replaced by another file/);
      } finally {
        await store.close();
      }
      const reopened = open({ path });
      try {
        assert.deepEqual((await reopened.readAll()).map((e) => e.streamId), ['kept']);
      } finally {
        await reopened.close();
      }
    });

    it('a database with a damaged schema page is STORE_CORRUPT', async () => {
      const path = freshPath();
      const store = open({ path });
      await store.append('s', evs(10));
      await store.close();
      scribble(path, 100, 3996);
      await rejectsWith(openStore({ kind: 'sqlite', path, ...mode }), ErrorCodes.STORE_CORRUPT);
    });

    it('a file whose writer lock is held elsewhere fails appends with STORE_LOCKED, writing nothing', async () => {
      const path = freshPath();
      const store = open({ path, busyTimeoutMs: 50 });
      await store.append('s', evs(1));
      const other = new Database(path);
      other.exec('BEGIN EXCLUSIVE');
      try {
        const settled = await Promise.allSettled([store.append('s', evs(1)), store.append('t', evs(2))]);
        for (const r of settled) {
          assert.equal(r.status, 'rejected');
          assert.equal((r as PromiseRejectedResult).reason.code, ErrorCodes.STORE_LOCKED);
          assert.ok((r as PromiseRejectedResult).reason.message.includes(path));
        }
      } finally {
        other.exec('ROLLBACK');
        other.close();
      }
      assert.equal((await store.append('s', evs(1))).nextExpectedRevision, 1, 'works again once the lock is gone');
      assert.equal((await store.readAll()).length, 2);
      await store.close();
    });

    it('a rollback-journal file locked exclusively elsewhere cannot be opened: STORE_LOCKED', () => {
      const path = freshPath();
      const other = new Database(path);
      other.exec('CREATE TABLE t (x); BEGIN EXCLUSIVE; INSERT INTO t VALUES (1)');
      try {
        assert.throws(() => open({ path, busyTimeoutMs: 50 }), (e: { code?: string }) => e.code === ErrorCodes.STORE_LOCKED);
      } finally {
        other.exec('ROLLBACK');
        other.close();
      }
    });

    it('refuses a file with a newer schema version, and a database that is not an event store', async () => {
      const newer = freshPath();
      await open({ path: newer }).close();
      const db = new Database(newer);
      db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
      db.close();
      assert.throws(
        () => open({ path: newer }),
        (e: { code?: string; message?: string }) => e.code === ErrorCodes.STORE_UNAVAILABLE && /newer/.test(e.message!),
      );
      const foreign = freshPath();
      const f = new Database(foreign);
      f.exec('CREATE TABLE invoices (id)');
      f.close();
      assert.throws(() => open({ path: foreign }), (e: { code?: string }) => e.code === ErrorCodes.STORE_UNAVAILABLE);
    });

    it('refuses data that cannot be stored as JSON (INVALID_APPEND) without failing its batch', async () => {
      const store = open({ path: freshPath() });
      try {
        const circular: Record<string, unknown> = {};
        circular.self = circular;
        const settled = await Promise.allSettled([
          store.append('a', evs(1)),
          store.append('b', [ev('T', { n: 1n })]),
          store.append('c', [ev('T', circular)]),
          store.append('d', evs(1)),
        ]);
        assert.deepEqual(settled.map((r) => r.status), ['fulfilled', 'rejected', 'rejected', 'fulfilled']);
        for (const r of settled.slice(1, 3)) assert.equal((r as PromiseRejectedResult).reason.code, ErrorCodes.INVALID_APPEND);
      } finally {
        await store.close();
      }
    });
  });

  describe(`${name} event store: group commit`, () => {
    it('1,000 concurrent appends share a handful of commits', async () => {
      const store = open({ path: freshPath() });
      try {
        await Promise.all(Array.from({ length: 1000 }, (_, i) => store.append(`call-${i}`, evs(2))));
        const { commits, events, appends } = store.stats;
        assert.equal(events, 2000);
        assert.equal(appends, 1000);
        assert.ok(commits <= 5, `expected a handful of commits, got ${commits}`);
      } finally {
        await store.close();
      }
    });

    it('appends queued together are applied in call order, each against the stream as the batch left it', async () => {
      const store = open({ path: freshPath() });
      try {
        const settled = await Promise.allSettled([
          store.append('s', evs(2), { expectedRevision: 'no_stream' }),
          store.append('s', evs(1), { expectedRevision: 1 }),
          store.append('s', evs(1), { expectedRevision: 1 }),
          store.append('s', evs(1), { expectedRevision: 'stream_exists' }),
        ]);
        assert.deepEqual(settled.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
        assert.equal((settled[2] as PromiseRejectedResult).reason.actual, 2);
        assert.equal(store.stats.commits, 1);
        assert.deepEqual((await store.readStream('s')).map((e) => e.revision), [0, 1, 2, 3]);
      } finally {
        await store.close();
      }
    });

    it('maxBatchEvents bounds one transaction', async () => {
      const store = open({ path: freshPath(), maxBatchEvents: 100 });
      try {
        await Promise.all(Array.from({ length: 1000 }, (_, i) => store.append(`call-${i}`, evs(1))));
        const { commits, events, largestCommitEvents } = store.stats;
        assert.equal(events, 1000);
        assert.equal(largestCommitEvents, 100, 'no transaction holds more than maxBatchEvents, and the queue filled some');
        // On the main thread each flush takes a full batch: exactly 10. A commit thread that goes
        // idle while 100 are still queued splits them in two (MIN_APPENDS_TO_SPLIT), so 10 or 11
        // there, depending on when the thread's replies arrive.
        if (mode.commitThread === true) assert.ok(commits === 10 || commits === 11, `${commits} transactions`);
        else assert.equal(commits, 10);
      } finally {
        await store.close();
      }
    });

    it('a transaction that fails is rolled back whole: every append in it rejects, nothing is written, later appends work', async () => {
      const path = freshPath();
      const store = open({ path });
      // Make the database itself refuse one kind of event, as a disk or constraint failure would.
      const other = new Database(path);
      try {
        await store.append('a', evs(1));
        other.exec(`CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.type = 'Refused' BEGIN SELECT RAISE(ABORT, 'refused'); END`);
        const settled = await Promise.allSettled([
          store.append('a', evs(2), { expectedRevision: 0 }),
          store.append('b', [ev('Refused')]),
          store.append('c', evs(1)),
        ]);
        for (const r of settled) {
          assert.equal(r.status, 'rejected');
          assert.equal((r as PromiseRejectedResult).reason.code, ErrorCodes.STORE_UNAVAILABLE);
        }
        assert.equal(store.stats.failedCommits, 1);
        assert.deepEqual((await store.readAll()).map((e) => e.streamId), ['a']);
        await rejectsWith(store.readStream('c'), ErrorCodes.STREAM_NOT_FOUND);
        // The failed batch's revisions must not linger in the store's stream cache. (The trigger
        // stays: nobody else commits, so the store has no outside reason to drop its cache.)
        assert.equal((await store.append('a', evs(1), { expectedRevision: 0 })).nextExpectedRevision, 1);
        assert.equal((await store.append('c', evs(1), { expectedRevision: 'no_stream' })).nextExpectedRevision, 0);
      } finally {
        other.close();
        await store.close();
      }
    });
  });

  describe(`${name} event store: several instances on one file`, () => {
    it('a second instance sees what the first writes, through subscribeToAll (polling)', async () => {
      const path = freshPath();
      const writer = open({ path });
      const reader = open({ path, pollIntervalMs: 10 });
      try {
        await writer.append('call-1', evs(3));
        const got: RecordedEvent[] = [];
        const sub = reader.subscribeToAll({}, (e) => void got.push(e));
        await sub.caughtUp;
        assert.equal(got.length, 3);
        await writer.append('call-2', evs(2));
        await waitUntil(() => got.length === 5, 'events from the other instance');
        await sub.close();
        assert.deepEqual(got.map((e) => e.position), (await writer.readAll()).map((e) => e.position));
      } finally {
        await Promise.all([writer.close(), reader.close()]);
      }
    });

    it('two instances writing one stream in turn keep revisions consistent (no stale cached heads)', async () => {
      const path = freshPath();
      const a = open({ path });
      const b = open({ path });
      try {
        let expected = (await a.append('s', evs(1), { expectedRevision: 'no_stream' })).nextExpectedRevision;
        for (let i = 0; i < 10; i++) {
          const [writer, stale] = i % 2 === 0 ? [b, a] : [a, b];
          expected = (await writer.append('s', evs(1), { expectedRevision: expected })).nextExpectedRevision;
          await rejectsWith(stale.append('s', evs(1), { expectedRevision: expected - 1 }), ErrorCodes.WRONG_EXPECTED_REVISION);
        }
        // Concurrent writers on both instances: exactly one wins each round.
        const settled = await Promise.allSettled([a.append('s', evs(1), { expectedRevision: expected }), b.append('s', evs(1), { expectedRevision: expected })]);
        assert.equal(settled.filter((r) => r.status === 'fulfilled').length, 1);
        assert.deepEqual((await a.readStream('s')).map((e) => e.revision), Array.from({ length: 12 }, (_, i) => i));
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('subscriptions wake on local commits without waiting for the poll interval', async () => {
      const store = open({ path: freshPath(), pollIntervalMs: 60_000 });
      try {
        const got: string[] = [];
        const sub = store.subscribeToAll({}, (e) => void got.push(e.id));
        await sub.caughtUp;
        const [e] = evs(1);
        await store.append('s', [e!]);
        await waitUntil(() => got.length === 1, 'the local event', 1000);
        await sleep(5);
        await sub.close();
        assert.deepEqual(got, [e!.id]);
      } finally {
        await store.close();
      }
    });
  });
}
