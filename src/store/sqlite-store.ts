/**
 * The SQLite event store (kind 'sqlite'): one file, WAL mode, synchronous=FULL, better-sqlite3.
 *
 * Group commit. `append` validates and encodes its events, then queues them; the queue is
 * written on the next `setImmediate` turn, so every append that arrived in the same turn (or
 * while the previous commit ran) shares ONE transaction and ONE fsync. Inside it each append is
 * checked against the stream as the batch has left it so far, and fails on its own
 * (WrongExpectedRevisionError, INVALID_APPEND) without touching the others. Only once COMMIT
 * returns (the WAL is fsynced) do the promises resolve. If the transaction itself fails, it is
 * rolled back entirely and every append in it rejects with the cause (STORE_LOCKED, STORE_CORRUPT,
 * STORE_UNAVAILABLE). A batch holds at most `maxBatchEvents` events (bounding how long one commit
 * blocks the event loop); the rest go in the next turn.
 *
 * Several processes may share the file: writes take SQLite's write lock (waiting up to
 * `busyTimeoutMs`, which blocks the event loop while waiting, then STORE_LOCKED), the cached
 * stream heads are dropped whenever PRAGMA data_version shows another connection committed, and
 * subscriptions poll by position to see rows other processes wrote.
 */
import type Database from 'better-sqlite3';
import { ErrorCodes, VoxError } from '../domain/errors.ts';
import {
  ANY,
  NO_STREAM,
  StreamNotFoundError,
  WrongExpectedRevisionError,
  type AppendResult,
  type EventData,
  type EventStore,
  type ExpectedRevision,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
  type SubscriptionHandler,
} from './port.ts';
import {
  duplicateIdsError,
  emptyAppendResult,
  findCleanReappend,
  revisionMatches,
  validateAppend,
  type StoredEventLookup,
  type StreamHead,
} from './append-rules.ts';
import { CatchUpSubscription, ChangeSignal } from './catch-up.ts';
import { normaliseAllRead, normaliseStreamRead } from './read-options.ts';
import { isDuplicateEventId, storeError } from './sqlite-errors.ts';
import { openStoreDatabase } from './sqlite-schema.ts';
import { SqliteReads } from './sqlite-reads.ts';

export interface SqliteStoreOptions {
  /** The database file (created if missing). */
  path: string;
  /** How long a write waits for another connection's write lock before STORE_LOCKED. Default 5000. */
  busyTimeoutMs?: number;
  /** Most events written by one group commit. Default 4096. */
  maxBatchEvents?: number;
  /** How often a caught-up subscription looks for events written by other processes. Default 100. */
  pollIntervalMs?: number;
}

/** Counters since the store was opened. */
export interface SqliteStoreStats {
  /** Transactions committed (each one fsync). */
  commits: number;
  /** Events written. */
  events: number;
  /** Appends settled by a committed transaction (written, idempotent, or refused on their own). */
  appends: number;
  /** Transactions rolled back as a whole. */
  failedCommits: number;
}

interface PendingAppend {
  streamId: string;
  events: EventData[];
  /** JSON of each event's data and metadata, interleaved: [data0, metadata0, data1, …]. */
  json: string[];
  expected: ExpectedRevision;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

type InsertParams = [position: number, streamKey: number, revision: number, id: string, type: string, data: string, metadata: string];

/** A stream head as stored: with the stream's integer key (see sqlite-schema.ts). */
interface StoredHead extends StreamHead {
  key: number;
}

/** Stream heads cached between transactions (dropped when another connection commits). */
const MAX_CACHED_HEADS = 65_536;

export class SqliteEventStore implements EventStore {
  readonly kind = 'sqlite';
  readonly path: string;
  private readonly db: Database.Database;
  private readonly reads: SqliteReads;
  private readonly maxBatchEvents: number;
  private readonly pollIntervalMs: number;
  private readonly statements: ReturnType<typeof prepareWrites>;
  private readonly lookup: StoredEventLookup;
  private readonly counters: SqliteStoreStats = { commits: 0, events: 0, appends: 0, failedCommits: 0 };
  private queue: PendingAppend[] = [];
  private queuedEvents = 0;
  private flushScheduled = false;
  /** Stream heads as of the last transaction, valid while data_version is `seenDataVersion`. */
  private readonly heads = new Map<string, StoredHead>();
  private seenDataVersion: number | undefined;
  /** Next global position to assign, inside the open transaction. */
  private nextPosition = 0;
  private readonly signal = new ChangeSignal();
  private readonly subscriptions = new Set<CatchUpSubscription>();
  private closed = false;
  private closing: Promise<void> | undefined;

  /** Opens the file synchronously; throws STORE_CORRUPT / STORE_LOCKED / STORE_UNAVAILABLE. */
  constructor(options: SqliteStoreOptions) {
    this.path = options.path;
    this.maxBatchEvents = options.maxBatchEvents ?? 4096;
    this.pollIntervalMs = options.pollIntervalMs ?? 100;
    this.db = openStoreDatabase(options.path, options.busyTimeoutMs ?? 5000);
    try {
      this.reads = new SqliteReads(this.db, this.path);
      this.statements = prepareWrites(this.db);
    } catch (e) {
      this.db.close();
      throw storeError(e, this.path, 'preparing statements');
    }
    const { locate, idsFrom } = this.statements;
    this.lookup = {
      locate: (id) => locate.get(id),
      idsFrom: (streamId, fromRevision, count) => idsFrom.all(streamId, fromRevision, count),
    };
  }

  /** Counters since open: commits, events written, appends settled, failed commits. */
  get stats(): Readonly<SqliteStoreStats> {
    return { ...this.counters };
  }

  append(streamId: string, events: EventData[], options?: { expectedRevision?: ExpectedRevision }): Promise<AppendResult> {
    if (this.closed) return Promise.reject(this.closedError());
    const expected = options?.expectedRevision ?? ANY;
    let json: string[];
    try {
      validateAppend(streamId, events, expected);
      json = encode(streamId, events);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ streamId, events, json, expected, resolve, reject });
      this.queuedEvents += events.length;
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(this.flushTick);
      }
    });
  }

  async readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> {
    const read = normaliseStreamRead(options);
    const events = this.reading(`reading ${streamId}`, () => this.reads.stream(streamId, read));
    if (events === undefined) throw new StreamNotFoundError(streamId);
    return events;
  }

  async readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    const read = normaliseAllRead(options);
    return this.reading('reading all events', () => this.reads.all(read));
  }

  async headPosition(): Promise<number> {
    return this.reading('reading the head position', () => this.reads.head());
  }

  subscribeToAll(options: SubscribeOptions, handler: SubscriptionHandler): Subscription {
    if (this.closed) throw this.closedError();
    const { after, prefixes } = normaliseAllRead(options);
    const source = {
      read: (from: number, limit: number) => this.reading('reading for a subscription', () => this.reads.batch(from, limit, prefixes)),
      changed: () => this.signal.wait(this.pollIntervalMs),
    };
    const sub = new CatchUpSubscription(source, after, handler, (s) => this.subscriptions.delete(s));
    this.subscriptions.add(sub);
    return sub;
  }

  /** Writes every append already accepted, stops the subscriptions, then closes the file. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.closed = true;
    while (this.queue.length > 0) this.flushBatch();
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    this.db.close();
  }

  private readonly flushTick = (): void => {
    this.flushScheduled = false;
    if (this.queue.length === 0 || !this.db.open) return;
    this.flushBatch();
    if (this.queue.length > 0) {
      this.flushScheduled = true;
      setImmediate(this.flushTick);
    }
  };

  /** Takes up to maxBatchEvents events' worth of appends off the queue and commits them. */
  private flushBatch(): void {
    let batch: PendingAppend[];
    if (this.queuedEvents <= this.maxBatchEvents) {
      batch = this.queue;
      this.queue = [];
      this.queuedEvents = 0;
    } else {
      let n = 0;
      let events = 0;
      while (n < this.queue.length && (n === 0 || events + this.queue[n]!.events.length <= this.maxBatchEvents)) events += this.queue[n++]!.events.length;
      batch = this.queue.splice(0, n);
      this.queuedEvents -= events;
    }
    this.commit(batch);
  }

  /** One transaction for the whole batch; settles every append in it. */
  private commit(batch: PendingAppend[]): void {
    const { begin, commit, dataVersion } = this.statements;
    const outcomes = new Array<AppendResult | VoxError>(batch.length);
    let firstPosition: number;
    try {
      begin.run();
      const version = dataVersion.get()!;
      if (version !== this.seenDataVersion) {
        this.heads.clear();
        this.seenDataVersion = version;
      }
      firstPosition = this.nextPosition = this.reads.head() + 1;
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
      const error = storeError(e, this.path, `writing a batch of ${batch.length} append(s)`);
      for (const p of batch) p.reject(error);
      return;
    }
    this.counters.commits++;
    this.counters.appends += batch.length;
    this.counters.events += this.nextPosition - firstPosition;
    for (let i = 0; i < batch.length; i++) {
      const outcome = outcomes[i]!;
      if (outcome instanceof VoxError) batch[i]!.reject(outcome);
      else batch[i]!.resolve(outcome);
    }
    this.signal.notify();
  }

  /** Undoes the failed transaction (SQLite may already have) and forgets heads it cached. */
  private rollBack(): void {
    this.heads.clear();
    this.counters.failedCommits++;
    if (!this.db.inTransaction) return;
    try {
      this.statements.rollback.run();
    } catch {
      // The connection rolls back on its own when it cannot; the batch is reported failed either way.
    }
  }

  /** Applies one append inside the open transaction; throws a VoxError for its own refusal. */
  private apply(p: PendingAppend): AppendResult {
    const { streamId, events, expected } = p;
    const head = this.streamHead(streamId);
    const conflict = !revisionMatches(expected, head?.revision);
    if (events.length === 0) {
      if (conflict) throw new WrongExpectedRevisionError(streamId, expected, head?.revision ?? NO_STREAM);
      return emptyAppendResult(head);
    }
    if (conflict) {
      const again = findCleanReappend(this.lookup, streamId, events, expected);
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
      const again = findCleanReappend(this.lookup, streamId, events, expected);
      if (again !== undefined) return again;
      throw duplicateIdsError(streamId, events.filter((ev) => this.lookup.locate(ev.id) !== undefined).map((ev) => ev.id));
    }
    return { nextExpectedRevision: lastRevision, position: lastPosition };
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

  /** Runs a read, mapping SQLite failures; STORE_CLOSED once closed. */
  private reading<T>(doing: string, read: () => T): T {
    if (this.closed) throw this.closedError();
    try {
      return read();
    } catch (e) {
      throw storeError(e, this.path, doing);
    }
  }

  private closedError(): VoxError {
    return new VoxError(ErrorCodes.STORE_CLOSED, `event store ${this.path} is closed`, { path: this.path });
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

/** JSON-encodes each event's data and metadata; INVALID_APPEND when one cannot be. */
function encode(streamId: string, events: readonly EventData[]): string[] {
  const json = new Array<string>(events.length * 2);
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    let data: string | undefined;
    let metadata: string | undefined;
    try {
      data = JSON.stringify(e.data);
      metadata = JSON.stringify(e.metadata);
    } catch (cause) {
      throw notJson(streamId, e.id, cause);
    }
    if (data === undefined || metadata === undefined) throw notJson(streamId, e.id, undefined);
    json[2 * i] = data;
    json[2 * i + 1] = metadata;
  }
  return json;
}

function notJson(streamId: string, eventId: string, cause: unknown): VoxError {
  const reason = cause instanceof Error ? `: ${cause.message}` : '';
  return new VoxError(ErrorCodes.INVALID_APPEND, `event ${eventId} for ${streamId} cannot be stored as JSON${reason}`, { streamId, eventId }, { cause });
}
