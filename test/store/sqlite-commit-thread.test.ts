/**
 * The SQLite store with `commitThread: true`: the whole conformance suite and the SQLite file
 * tests (sqlite-cases.ts), plus what only this mode has — the event loop runs while a commit
 * waits, a dying commit thread, a mix of modes on one file.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ErrorCodes, type VoxError } from '../../src/domain/errors.ts';
import { SqliteEventStore } from '../../src/store/sqlite-store.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { CommitThread } from '../../src/store/sqlite-commit-thread.ts';
import { evs, rejectsWith, sleep } from './conformance/helpers.ts';
import { sqliteStoreCases, tempFiles } from './sqlite-cases.ts';

sqliteStoreCases('sqlite (commit thread)', { commitThread: true });

const freshPath = tempFiles();

/** The store's current commit thread (private), to make it die as a crash would. */
function commitThreadOf(store: SqliteEventStore): CommitThread {
  const thread = (store as unknown as { thread: CommitThread | undefined }).thread;
  assert.ok(thread, 'the store has a commit thread');
  return thread;
}

describe('sqlite event store: commit thread', () => {
  it('a commit waiting for another writer\'s lock leaves the event loop running, and completes once the lock is gone', async () => {
    const path = freshPath();
    const store = new SqliteEventStore({ path, commitThread: true, busyTimeoutMs: 10_000 });
    const other = new Database(path);
    try {
      await store.append('s', evs(1)); // the thread is up
      other.exec('BEGIN EXCLUSIVE');
      let settled = false;
      const pending = store.append('s', evs(1), { expectedRevision: 0 }).finally(() => void (settled = true));
      let ticks = 0;
      const timer = setInterval(() => void ticks++, 5);
      await sleep(400);
      clearInterval(timer);
      assert.equal(settled, false, 'the append waits for the lock');
      // On the main thread the wait would block the loop for the whole 400 ms (no tick at all).
      assert.ok(ticks >= 10, `the event loop ran while the commit waited (${ticks} timer ticks in 400 ms)`);
      other.exec('ROLLBACK');
      assert.equal((await pending).nextExpectedRevision, 1);
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      await store.close();
    }
  });

  it('a dying commit thread fails the appends it had not answered with STORE_UNAVAILABLE and reports it; re-appending them is safe and starts a new thread', async () => {
    const path = freshPath();
    const failures: VoxError[] = [];
    // A long busy timeout: the thread's commit below waits for `other`'s lock, so it cannot have
    // answered when it dies, however loaded the machine (the test used to race the thread's answer).
    const store = new SqliteEventStore({ path, commitThread: true, busyTimeoutMs: 30_000, onCommitThreadFailure: (e) => void failures.push(e) });
    const other = new Database(path);
    try {
      await store.append('warm-up', evs(1)); // the thread is up and has its connection
      other.exec('BEGIN EXCLUSIVE');
      const a = evs(2);
      const b = evs(1);
      const outcomes: string[] = [];
      const pending = [store.append('a', a, { expectedRevision: 'no_stream' }), store.append('b', b, { expectedRevision: 'no_stream' })];
      for (const p of pending) p.then(() => outcomes.push('resolved'), () => outcomes.push('rejected'));
      await new Promise((r) => setImmediate(r)); // the batch is sent; the thread waits for the lock
      const dead = commitThreadOf(store).terminate(); // the thread stops as soon as it is back from the lock wait
      other.exec('ROLLBACK'); // lets the blocked commit return (into a terminating thread)
      await dead;
      for (const p of pending) {
        const e = await rejectsWith(p, ErrorCodes.STORE_UNAVAILABLE);
        assert.ok(e.message.includes(path) && /commit thread/.test(e.message), e.message);
      }
      assert.deepEqual(outcomes, ['rejected', 'rejected']);
      assert.equal(failures.length, 1);
      assert.equal(failures[0]!.code, ErrorCodes.STORE_UNAVAILABLE);
      assert.equal(store.stats.commitThreadFailures, 1);
      assert.equal(store.stats.failedCommits, 0, 'no transaction was rolled back');
      // The thread may or may not have committed before it died: the same appends again succeed
      // either way (written now, or found as a clean re-append), and nothing is written twice.
      assert.equal((await store.append('a', a, { expectedRevision: 'no_stream' })).nextExpectedRevision, 1);
      assert.equal((await store.append('b', b, { expectedRevision: 'no_stream' })).nextExpectedRevision, 0);
      assert.deepEqual((await store.readAll({ streamPrefixes: ['a', 'b'] })).map((e) => e.id).sort(), [...a, ...b].map((e) => e.id).sort());
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      await store.close();
    }
  });

  it('an instance committing on the main thread and one with a commit thread share a file without stale revisions', async () => {
    const path = freshPath();
    const threaded = new SqliteEventStore({ path, commitThread: true });
    const plain = new SqliteEventStore({ path });
    try {
      let expected = (await threaded.append('s', evs(1), { expectedRevision: 'no_stream' })).nextExpectedRevision;
      for (let i = 0; i < 6; i++) {
        const [writer, stale] = i % 2 === 0 ? [plain, threaded] : [threaded, plain];
        expected = (await writer.append('s', evs(1), { expectedRevision: expected })).nextExpectedRevision;
        await rejectsWith(stale.append('s', evs(1), { expectedRevision: expected - 1 }), ErrorCodes.WRONG_EXPECTED_REVISION);
      }
      assert.deepEqual((await plain.readStream('s')).map((e) => e.revision), [0, 1, 2, 3, 4, 5, 6]);
      assert.deepEqual(await threaded.readAll(), await plain.readAll());
    } finally {
      await Promise.all([threaded.close(), plain.close()]);
    }
  });

  it('after close, appends are STORE_CLOSED and the file reopens with everything acknowledged', async () => {
    const path = freshPath();
    const store = new SqliteEventStore({ path, commitThread: true });
    const acknowledged = await Promise.all(Array.from({ length: 20 }, (_, i) => store.append(`s-${i % 4}`, evs(3))));
    await store.close();
    await rejectsWith(store.append('s-0', evs(1)), ErrorCodes.STORE_CLOSED);
    const again = new SqliteEventStore({ path });
    try {
      assert.equal(await again.headPosition(), Math.max(...acknowledged.map((r) => r.position)));
      assert.equal((await again.readAll()).length, 60);
    } finally {
      await again.close();
    }
  });

  it('refuses an in-memory database (the thread needs a file to open)', () => {
    assert.throws(() => new SqliteEventStore({ path: ':memory:', commitThread: true }), (e: { code?: string }) => e.code === ErrorCodes.STORE_UNAVAILABLE);
  });

  it('openStore passes commitThread on', async () => {
    const store = await openStore({ kind: 'sqlite', path: freshPath(), commitThread: true });
    try {
      assert.ok(store instanceof SqliteEventStore && store.commitThread);
      await store.append('s', evs(1));
    } finally {
      await store.close();
    }
  });
});
