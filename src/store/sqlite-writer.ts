/**
 * The write side of the SQLite store: one group-commit transaction over a batch of appends
 * already validated and JSON-encoded. It runs on whichever thread owns the write connection —
 * the main thread (the default) or the commit thread (sqlite-commit-worker.ts).
 *
 * Inside the transaction each append is checked against the stream as the batch has left it so
 * far, and fails on its own (WrongExpectedRevisionError, INVALID_APPEND) without touching the
 * others. If the transaction itself fails it is rolled back entirely and `commit` throws the
 * cause (STORE_LOCKED, STORE_CORRUPT, STORE_UNAVAILABLE). Stream heads are cached between
 * transactions and dropped whenever PRAGMA data_version shows another connection committed, and
 * after any rollback, so a failed batch never leaves a stale revision behind.
 */
import type Database from 'better-sqlite3';
import { VoxError } from '../domain/errors.ts';
import { NO_STREAM, WrongExpectedRevisionError, type AppendResult, type EventData, type ExpectedRevision } from './port.ts';
import {
  duplicateIdsError,
  emptyAppendResult,
  findCleanReappend,
  revisionMatches,
  type StoredEventLookup,
  type StreamHead,
} from './append-rules.ts';
import { isDuplicateEventId, storeError } from './sqlite-errors.ts';

/** What the writer needs of one event: its id and type (data and metadata travel as JSON). */
export interface EncodedEvent {
  id: string;
  type: string;
}

/** One append, validated and encoded, ready for a transaction. */
export interface EncodedAppend {
  streamId: string;
  events: readonly EncodedEvent[];
  /** JSON of each event's data and metadata, interleaved: [data0, metadata0, data1, …]. */
  json: readonly string[];
  expected: ExpectedRevision;
}

/** What one committed transaction did: each append's own outcome, and how many events it wrote. */
export interface BatchOutcome {
  outcomes: Array<AppendResult | VoxError>;
  eventsWritten: number;
}

type InsertParams = [position: number, streamKey: number, revision: number, id: string, type: string, data: string, metadata: string];

/** A stream head as stored: with the stream's integer key (see sqlite-schema.ts). */
interface StoredHead extends StreamHead {
  key: number;
}

/** Stream heads cached between transactions (dropped when another connection commits). */
const MAX_CACHED_HEADS = 65_536;

export class SqliteWriter {
  private readonly statements: ReturnType<typeof prepareWrites>;
  private readonly lookup: StoredEventLookup;
  /** Stream heads as of the last transaction, valid while data_version is `seenDataVersion`. */
  private readonly heads = new Map<string, StoredHead>();
  private seenDataVersion: number | undefined;
  /** Next global position to assign, inside the open transaction. */
  private nextPosition = 0;

  /** Prepares the write statements on `db`; throws a VoxError naming `path` if it cannot. */
  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
  ) {
    try {
      this.statements = prepareWrites(db);
    } catch (e) {
      throw storeError(e, path, 'preparing statements');
    }
    const { locate, idsFrom } = this.statements;
    this.lookup = {
      locate: (id) => locate.get(id),
      idsFrom: (streamId, fromRevision, count) => idsFrom.all(streamId, fromRevision, count),
    };
  }

  /**
   * Writes the batch in one transaction (one fsync) and returns each append's outcome. Throws a
   * VoxError, with everything rolled back, when the transaction as a whole fails.
   */
  commit(batch: readonly EncodedAppend[]): BatchOutcome {
    const { begin, commit, dataVersion, maxPosition } = this.statements;
    const outcomes = new Array<AppendResult | VoxError>(batch.length);
    let firstPosition: number;
    try {
      begin.run();
      const version = dataVersion.get()!;
      if (version !== this.seenDataVersion) {
        this.heads.clear();
        this.seenDataVersion = version;
      }
      firstPosition = this.nextPosition = (maxPosition.get() ?? -1) + 1;
      for (let i = 0; i < batch.length; i++) {
        try {
          outcomes[i] = this.apply(batch[i]!);
        } catch (e) {
          if (!(e instanceof VoxError)) throw e;
          outcomes[i] = e;
        }
      }
      commit.run();
    } catch (e) {
      this.rollBack();
      throw storeError(e, this.path, `writing a batch of ${batch.length} append(s)`);
    }
    return { outcomes, eventsWritten: this.nextPosition - firstPosition };
  }

  /** Undoes the failed transaction (SQLite may already have) and forgets heads it cached. */
  private rollBack(): void {
    this.heads.clear();
    if (!this.db.inTransaction) return;
    try {
      this.statements.rollback.run();
    } catch {
      // The connection rolls back on its own when it cannot; the batch is reported failed either way.
    }
  }

  /** Applies one append inside the open transaction; throws a VoxError for its own refusal. */
  private apply(p: EncodedAppend): AppendResult {
    const { streamId, events, expected } = p;
    const head = this.streamHead(streamId);
    const conflict = !revisionMatches(expected, head?.revision);
    if (events.length === 0) {
      if (conflict) throw new WrongExpectedRevisionError(streamId, expected, head?.revision ?? NO_STREAM);
      return emptyAppendResult(head);
    }
    if (conflict) {
      const again = this.cleanReappend(p);
      if (again !== undefined) return again;
      throw new WrongExpectedRevisionError(streamId, expected, head?.revision ?? NO_STREAM);
    }
    const firstPosition = this.nextPosition;
    const lastRevision = (head?.revision ?? -1) + events.length;
    const lastPosition = firstPosition + events.length - 1;
    const { insert, savepoint, release, rollbackToSavepoint, createStream, updateStream } = this.statements;
    // A savepoint undoes a partly written append (or a stream row just created) if an id turns out to be taken.
    const guarded = events.length > 1 || head === undefined;
    if (guarded) savepoint.run();
    try {
      const key = head?.key ?? Number(createStream.run(streamId, lastRevision, lastPosition).lastInsertRowid);
      let revision = head?.revision ?? -1;
      for (let i = 0; i < events.length; i++) {
        const e = events[i]!;
        insert.run(this.nextPosition++, key, ++revision, e.id, e.type, p.json[2 * i]!, p.json[2 * i + 1]!);
      }
      if (head !== undefined) updateStream.run(lastRevision, lastPosition, key);
      if (guarded) release.run();
      this.cacheHead(streamId, { key, revision: lastRevision, position: lastPosition });
    } catch (e) {
      if (!isDuplicateEventId(e)) throw e;
      if (guarded) {
        rollbackToSavepoint.run();
        release.run();
      }
      this.nextPosition = firstPosition;
      const again = this.cleanReappend(p);
      if (again !== undefined) return again;
      throw duplicateIdsError(streamId, events.filter((ev) => this.lookup.locate(ev.id) !== undefined).map((ev) => ev.id));
    }
    return { nextExpectedRevision: lastRevision, position: lastPosition };
  }

  /** The shared re-append check; it reads only each event's id, which an encoded event carries. */
  private cleanReappend(p: EncodedAppend): AppendResult | undefined {
    return findCleanReappend(this.lookup, p.streamId, p.events as readonly Pick<EventData, 'id'>[] as readonly EventData[], p.expected);
  }

  private streamHead(streamId: string): StoredHead | undefined {
    const cached = this.heads.get(streamId);
    if (cached !== undefined) return cached;
    const stored = this.statements.streamHead.get(streamId);
    if (stored !== undefined) this.cacheHead(streamId, stored);
    return stored;
  }

  private cacheHead(streamId: string, head: StoredHead): void {
    if (this.heads.size >= MAX_CACHED_HEADS && !this.heads.has(streamId)) this.heads.delete(this.heads.keys().next().value!);
    this.heads.set(streamId, head);
  }
}

function prepareWrites(db: Database.Database) {
  return {
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
    savepoint: db.prepare('SAVEPOINT append'),
    release: db.prepare('RELEASE append'),
    rollbackToSavepoint: db.prepare('ROLLBACK TO append'),
    dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
    maxPosition: db.prepare<[], number | null>('SELECT max(position) FROM events').pluck(),
    insert: db.prepare<InsertParams>(
      'INSERT INTO events (position, stream_key, revision, id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    createStream: db.prepare<[string, number, number]>('INSERT INTO streams (stream_id, revision, position) VALUES (?, ?, ?)'),
    updateStream: db.prepare<[number, number, number]>('UPDATE streams SET revision = ?, position = ? WHERE stream_key = ?'),
    streamHead: db.prepare<[string], StoredHead>('SELECT stream_key AS key, revision, position FROM streams WHERE stream_id = ?'),
    locate: db.prepare<[string], { streamId: string; revision: number }>(
      'SELECT s.stream_id AS streamId, e.revision FROM events e CROSS JOIN streams s ON s.stream_key = e.stream_key WHERE e.id = ?',
    ),
    idsFrom: db.prepare<[string, number, number], { id: string; position: number }>(
      `SELECT e.id, e.position FROM streams s CROSS JOIN events e ON e.stream_key = s.stream_key
       WHERE s.stream_id = ? AND e.revision >= ? ORDER BY e.revision LIMIT ?`,
    ),
  };
}
