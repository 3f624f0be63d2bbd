/**
 * The commit thread of SQLite stores opened with `commitThread: true` (a node:worker_threads
 * worker, started by sqlite-commit-thread.ts; one per process, shared by every such store). It
 * owns each store's write connection (WAL, synchronous=FULL): for each batch it runs the group
 * transaction with SqliteWriter — the same code the main-thread mode runs — so the transaction and
 * its fsync, and any wait for another process's write lock, block this thread instead of the
 * main thread's event loop. It replies to a batch only after COMMIT has returned, i.e. once the
 * batch is durable.
 *
 * Messages are handled one at a time in the order they arrive. The worker keeps no state beyond
 * its connections and each writer's stream-head cache, which the writer keeps coherent.
 */
import { parentPort } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { ErrorCodes, VoxError } from '../domain/errors.ts';
import { storeError } from './sqlite-errors.ts';
import { openStoreDatabase } from './sqlite-schema.ts';
import { SqliteWriter } from './sqlite-writer.ts';
import {
  fromBatchRequest,
  serializeError,
  toBatchDone,
  type FromCommitWorker,
  type OpenRequest,
  type SerializedError,
  type ToCommitWorker,
} from './sqlite-commit-protocol.ts';

interface Connection {
  db: Database.Database;
  writer: SqliteWriter;
  path: string;
}

function run(port: NonNullable<typeof parentPort>): void {
  const connections = new Map<number, Connection>();
  /** Why a connection could not be opened; its batches fail with this. */
  const openErrors = new Map<number, SerializedError>();
  const send = (message: FromCommitWorker): void => port.postMessage(message);

  const open = (m: OpenRequest): void => {
    let db: Database.Database | undefined;
    try {
      db = openStoreDatabase(m.path, m.busyTimeoutMs);
      connections.set(m.conn, { db, writer: new SqliteWriter(db, m.path), path: m.path });
    } catch (e) {
      if (db?.open) db.close();
      const error = serializeError(storeError(e, m.path, 'opening the commit thread connection'));
      openErrors.set(m.conn, error);
      send({ kind: 'openFailed', conn: m.conn, error });
    }
  };

  port.on('message', (m: ToCommitWorker) => {
    switch (m.kind) {
      case 'open':
        open(m);
        return;
      case 'close': {
        connections.get(m.conn)?.db.close();
        connections.delete(m.conn);
        openErrors.delete(m.conn);
        send({ kind: 'closed', conn: m.conn });
        return;
      }
      case 'batch': {
        const c = connections.get(m.conn);
        if (c === undefined) {
          const error =
            openErrors.get(m.conn) ??
            serializeError(new VoxError(ErrorCodes.STORE_UNAVAILABLE, `the commit thread has no open connection #${m.conn}`));
          send({ kind: 'failed', seq: m.seq, error });
          return;
        }
        try {
          const { outcomes, eventsWritten } = c.writer.commit(fromBatchRequest(m));
          send(toBatchDone(m.seq, outcomes, eventsWritten));
        } catch (e) {
          send({ kind: 'failed', seq: m.seq, error: serializeError(storeError(e, c.path, 'committing a batch')) });
        }
        return;
      }
    }
  });
}

if (parentPort === null) {
  throw new VoxError(ErrorCodes.STORE_UNAVAILABLE, 'sqlite-commit-worker.ts runs only as a worker thread of an SQLite event store');
}
run(parentPort);
