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
 * takes); the rest go in the next one. The transaction itself is SqliteWriter (sqlite-writer.ts).
 *
 * Where the commit runs:
 * - by default on the main thread, inside the `setImmediate` turn: the transaction and its fsync
 *   block the event loop for as long as they take;
 * - with `commitThread: true`, on a worker thread that owns the write connection
 *   (sqlite-commit-thread.ts / sqlite-commit-worker.ts). The main thread only validates,
 *   encodes and sends each batch (at most two in flight, so the worker commits one while the main
 *   thread settles the other; see MIN_APPENDS_TO_SPLIT) and resolves the appends when
 *   the worker replies that the batch is committed. Reads and subscriptions stay on the main
 *   thread's own connection (WAL readers see every commit). If the worker dies, the appends it
 *   had not answered reject with STORE_UNAVAILABLE, `onCommitThreadFailure` is told, and the
 *   next batch starts a new worker.
 *
 * Several processes may share the file: writes take SQLite's write lock (waiting up to
 * `busyTimeoutMs` — blocking the event loop meanwhile, unless the commit thread waits — then
 * STORE_LOCKED), the cached stream heads are dropped whenever PRAGMA data_version shows another
 * connection committed, and subscriptions poll by position to see rows other processes wrote.
 */
import type Database from 'better-sqlite3';
import { ErrorCodes, VoxError } from '../domain/errors.ts';
import {
  ANY,
  StreamNotFoundError,
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
import { validateAppend } from './append-rules.ts';
import { CatchUpSubscription, ChangeSignal } from './catch-up.ts';
import { normaliseAllRead, normaliseStreamRead } from './read-options.ts';
import { storeError } from './sqlite-errors.ts';
import { openStoreDatabase } from './sqlite-schema.ts';
import { SqliteReads } from './sqlite-reads.ts';
import { SqliteWriter, type BatchOutcome, type EncodedAppend } from './sqlite-writer.ts';
import { CommitThread } from './sqlite-commit-thread.ts';
import { StoreFileWatch } from './sqlite-file-identity.ts';

export interface SqliteStoreOptions {
  /** The database file (created if missing). */
  path: string;
  /** How long a write waits for another connection's write lock before STORE_LOCKED. Default 5000. */
  busyTimeoutMs?: number;
  /** Most events written by one group commit. Default 4096. */
  maxBatchEvents?: number;
  /** How often a caught-up subscription looks for events written by other processes. Default 100. */
  pollIntervalMs?: number;
  /**
   * Commit (transaction + fsync) on a worker thread instead of the main thread's event loop.
   * Default false. The file path must be a real file (not ':memory:'): the worker opens its own
   * connection to it.
   */
  commitThread?: boolean;
  /** With `commitThread`: told when the commit thread cannot open the file or dies. */
  onCommitThreadFailure?: (error: VoxError) => void;
  /**
   * Told (once) when the file was deleted or replaced while open; from then on every commit fails
   * with STORE_UNAVAILABLE (see sqlite-file-identity.ts).
   */
  onFileLost?: (error: VoxError) => void;
}

/** Counters since the store was opened. */
export interface SqliteStoreStats {
  /** Transactions committed (each one fsync). */
  commits: number;
  /** Events written. */
  events: number;
  /** Events asked for by the largest committed transaction (at most maxBatchEvents, unless one append alone has more). */
  largestCommitEvents: number;
  /** Appends settled by a committed transaction (written, idempotent, or refused on their own). */
  appends: number;
  /** Transactions rolled back as a whole. */
  failedCommits: number;
  /** Commit threads that failed to open the file or died (always 0 without `commitThread`). */
  commitThreadFailures: number;
  /** Batches refused because the file was deleted or replaced while open. */
  fileLostBatches: number;
}

interface PendingAppend extends EncodedAppend {
  events: EventData[];
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

/** Batches sent to the commit thread and not yet answered, at most. */
const MAX_IN_FLIGHT = 2;

/**
 * With the commit thread idle, a queue of at least this many appends goes as two batches, so that
 * the thread commits the second while the main thread settles the first and encodes what its
 * callers append next (two fsyncs instead of one, but the threads work side by side instead of in
 * turn). Smaller queues go whole.
 */
const MIN_APPENDS_TO_SPLIT = 64;

export class SqliteEventStore implements EventStore {
  readonly kind = 'sqlite';
  readonly path: string;
  /** True when commits run on a worker thread (`commitThread: true`). */
  readonly commitThread: boolean;
  private readonly db: Database.Database;
  private readonly reads: SqliteReads;
  private readonly maxBatchEvents: number;
  private readonly pollIntervalMs: number;
  private readonly busyTimeoutMs: number;
  /** The main-thread writer (default mode), or undefined with a commit thread. */
  private readonly writer: SqliteWriter | undefined;
  private thread: CommitThread | undefined;
  private readonly onCommitThreadFailure: ((error: VoxError) => void) | undefined;
  /** Batches sent to the commit thread and not yet settled. */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly counters: SqliteStoreStats = { commits: 0, events: 0, largestCommitEvents: 0, appends: 0, failedCommits: 0, commitThreadFailures: 0, fileLostBatches: 0 };
  private queue: PendingAppend[] = [];
  private queuedEvents = 0;
  private flushScheduled = false;
  private readonly signal = new ChangeSignal();
  private readonly subscriptions = new Set<CatchUpSubscription>();
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Notices the file deleted or replaced while open (undefined for ':memory:'). */
  private readonly fileWatch: StoreFileWatch | undefined;
  private readonly onFileLost: ((error: VoxError) => void) | undefined;

  /** Opens the file synchronously; throws STORE_CORRUPT / STORE_LOCKED / STORE_UNAVAILABLE. */
  constructor(options: SqliteStoreOptions) {
    this.path = options.path;
    this.maxBatchEvents = options.maxBatchEvents ?? 4096;
    this.pollIntervalMs = options.pollIntervalMs ?? 100;
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    this.commitThread = options.commitThread ?? false;
    this.onCommitThreadFailure = options.onCommitThreadFailure;
    if (this.commitThread && options.path === ':memory:') {
      throw new VoxError(ErrorCodes.STORE_UNAVAILABLE, 'an in-memory SQLite store (:memory:) cannot use a commit thread: the thread needs a file to open', {
        path: options.path,
      });
    }
    this.db = openStoreDatabase(options.path, this.busyTimeoutMs);
    this.fileWatch = StoreFileWatch.of(options.path);
    this.onFileLost = options.onFileLost;
    try {
      this.reads = new SqliteReads(this.db, this.path);
      this.writer = this.commitThread ? undefined : new SqliteWriter(this.db, this.path);
      if (this.commitThread) this.thread = this.startThread();
    } catch (e) {
      this.db.close();
      throw storeError(e, this.path, 'preparing statements');
    }
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
      this.scheduleFlush();
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
      // While the store closes (the commit thread may take a while to stop), a subscription reads
      // nothing more instead of failing with STORE_CLOSED: close() ends it cleanly right after.
      read: (from: number, limit: number) => (this.closed ? { events: [], scannedTo: from, atHead: true } : this.reading('reading for a subscription', () => this.reads.batch(from, limit, prefixes))),
      changed: () => this.signal.wait(this.pollIntervalMs),
    };
    const sub = new CatchUpSubscription(source, after, handler, (s) => this.subscriptions.delete(s));
    this.subscriptions.add(sub);
    return sub;
  }

  /** Writes every append already accepted, stops the subscriptions (and the commit thread), then closes the file. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.closed = true;
    this.refuseIfFileLost();
    if (this.writer !== undefined) {
      while (this.queue.length > 0) this.commitHere(this.takeBatch());
    } else {
      while (this.queue.length > 0) this.send(this.takeBatch());
      while (this.inFlight.size > 0) await Promise.all(this.inFlight);
      await this.thread?.close();
    }
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    this.db.close();
    // Our WAL left beside a file that replaced ours would be replayed into it at the next open.
    this.fileWatch?.setAsideIfLost();
  }

  private scheduleFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushTick);
    }
  }

  private readonly flushTick = (): void => {
    this.flushScheduled = false;
    if (this.queue.length === 0 || !this.db.open) return;
    if (this.refuseIfFileLost()) return;
    if (this.writer === undefined) {
      if (this.inFlight.size === 0 && this.queue.length >= MIN_APPENDS_TO_SPLIT) this.send(this.takeBatch(Math.ceil(this.queuedEvents / 2)));
      // The next flush is scheduled when a batch in flight settles.
      while (this.queue.length > 0 && this.inFlight.size < MAX_IN_FLIGHT) this.send(this.takeBatch());
      return;
    }
    this.commitHere(this.takeBatch());
    if (this.queue.length > 0) this.scheduleFlush();
  };

  /**
   * Fails every queued append with STORE_UNAVAILABLE when the file was deleted or replaced since
   * it was opened (one stat per group commit); true if it did.
   */
  private refuseIfFileLost(): boolean {
    const lost = this.fileWatch?.check(this.onFileLost);
    if (lost === undefined) return false;
    const batch = this.queue;
    this.queue = [];
    this.queuedEvents = 0;
    this.counters.fileLostBatches++;
    for (const p of batch) p.reject(lost);
    return true;
  }

  /** Takes up to `maxEvents` (at most maxBatchEvents) events' worth of appends off the queue; at least one append. */
  private takeBatch(maxEvents = this.maxBatchEvents): PendingAppend[] {
    const limit = Math.min(maxEvents, this.maxBatchEvents);
    if (this.queuedEvents <= limit) {
      const batch = this.queue;
      this.queue = [];
      this.queuedEvents = 0;
      return batch;
    }
    let n = 0;
    let events = 0;
    while (n < this.queue.length && (n === 0 || events + this.queue[n]!.events.length <= limit)) events += this.queue[n++]!.events.length;
    this.queuedEvents -= events;
    return this.queue.splice(0, n);
  }

  /** Default mode: one transaction for the whole batch on this thread; settles every append in it. */
  private commitHere(batch: PendingAppend[]): void {
    let outcome: BatchOutcome;
    try {
      outcome = this.writer!.commit(batch);
    } catch (e) {
      this.batchFailed(batch, e, true);
      return;
    }
    this.settle(batch, outcome);
  }

  /** Commit-thread mode: sends the batch; settles its appends when the thread replies. */
  private send(batch: PendingAppend[]): void {
    if (this.thread === undefined || this.thread.failed !== undefined) {
      void this.thread?.close(); // frees what the worker still holds for the failed connection, if anything
      this.thread = this.startThread();
    }
    const thread = this.thread;
    const done = thread.commit(batch).then(
      (outcome) => this.settle(batch, outcome),
      // A dead thread is counted in commitThreadFailures, not as a rolled-back transaction.
      (e: unknown) => this.batchFailed(batch, e, e !== thread.failed),
    );
    const tracked = done.finally(() => {
      this.inFlight.delete(tracked);
      if (this.queue.length > 0 && !this.closed) this.scheduleFlush();
    });
    this.inFlight.add(tracked);
  }

  private startThread(): CommitThread {
    return new CommitThread({
      path: this.path,
      busyTimeoutMs: this.busyTimeoutMs,
      onFailure: (error) => {
        this.counters.commitThreadFailures++;
        this.onCommitThreadFailure?.(error);
      },
    });
  }

  private settle(batch: PendingAppend[], { outcomes, eventsWritten }: BatchOutcome): void {
    this.counters.commits++;
    this.counters.appends += batch.length;
    this.counters.events += eventsWritten;
    let asked = 0;
    for (const p of batch) asked += p.events.length;
    if (asked > this.counters.largestCommitEvents) this.counters.largestCommitEvents = asked;
    for (let i = 0; i < batch.length; i++) {
      const outcome = outcomes[i]!;
      if (outcome instanceof VoxError) batch[i]!.reject(outcome);
      else batch[i]!.resolve(outcome);
    }
    this.signal.notify();
  }

  /** The transaction failed as a whole (or the commit thread died): every append in it rejects. */
  private batchFailed(batch: PendingAppend[], e: unknown, rolledBack: boolean): void {
    if (rolledBack) this.counters.failedCommits++;
    const error = storeError(e, this.path, `writing a batch of ${batch.length} append(s)`);
    for (const p of batch) p.reject(error);
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
