/**
 * The in-memory heart of the EventStoreDB test double: one transaction log shared by every node
 * of a (simulated) cluster, with EventStoreDB's write and read semantics as its gRPC API exposes
 * them:
 *
 * - stream revisions from 0; `$all` positions are byte offsets in the log (strictly increasing,
 *   far from dense), commit position == prepare position for every event (as for gRPC appends);
 * - expected versions any / no_stream / stream_exists / exact, with the server's idempotency
 *   check (IndexWriter.CheckCommit): re-appending ids already in the stream succeeds and writes
 *   nothing; a batch only partly written already is "corrupted idempotency", answered as a wrong
 *   expected version; for `any`/`stream_exists` an id is looked up in the whole stream, for
 *   exact/no_stream at the revisions the expected version points to;
 * - like the real server, ids are NOT unique across streams: `any` happily writes an id that
 *   stands in another stream;
 * - system events (streams starting with `$`) live in the same log, as on a real node.
 */

/** One event in the log. */
export interface LogRecord {
  streamId: string;
  revision: number;
  /** Lowercase canonical UUID. */
  id: string;
  type: string;
  contentType: string;
  data: Uint8Array;
  metadata: Uint8Array;
  /** .NET ticks since the Unix epoch (what the server puts in the `created` metadata entry). */
  created: bigint;
  /** Commit == prepare position: the byte offset of the record in the log. */
  position: number;
}

export type Expected =
  | { kind: 'any' }
  | { kind: 'no_stream' }
  | { kind: 'stream_exists' }
  | { kind: 'revision'; revision: number };

export interface ProposedEvent {
  id: string;
  type: string;
  contentType: string;
  data: Uint8Array;
  metadata: Uint8Array;
}

export type WriteOutcome =
  | { kind: 'success'; /** -1: no stream (empty write to a missing stream). */ currentRevision: number; /** -1: none. */ position: number; idempotent: boolean }
  | { kind: 'wrong_expected_version'; /** -1: the stream does not exist. */ currentRevision: number }
  | { kind: 'max_append_size_exceeded'; maxAppendSize: number };

/** A write as the double received it, for tests to check what a client sent (and resent). */
export interface WriteLogEntry {
  node: string;
  method: 'Append' | 'BatchAppend';
  streamId: string;
  expected: Expected;
  eventIds: string[];
  outcome: WriteOutcome['kind'] | 'fault';
}

const TICKS_PER_MS = 10_000n;
const EPOCH_TICKS = 0n;

/** Fixed per-record overhead of the byte-offset position model (roughly a prepare record's header). */
const RECORD_OVERHEAD = 88;

export interface DatabaseOptions {
  /** EventStoreDB's MaxAppendSize (default 1,048,576 bytes). */
  maxAppendSize?: number;
  /** Write a few system events first, as a fresh real node has ($settings, $users, …). Default true. */
  seedSystemEvents?: boolean;
  /** Wall clock for `created`; default Date.now. */
  now?: () => number;
}

export class EsdbDoubleDatabase {
  readonly log: LogRecord[] = [];
  readonly writes: WriteLogEntry[] = [];
  private readonly streams = new Map<string, LogRecord[]>();
  /** Event id → where it was last written (the server's committed-events cache, unbounded here). */
  private readonly committed = new Map<string, { streamId: string; revision: number }>();
  private readonly listeners = new Set<() => void>();
  private nextPosition = 0;
  private readonly maxAppendSize: number;
  private readonly now: () => number;

  constructor(options: DatabaseOptions = {}) {
    this.maxAppendSize = options.maxAppendSize ?? 1_048_576;
    this.now = options.now ?? Date.now;
    if (options.seedSystemEvents ?? true) this.seedSystemEvents();
  }

  /** Appends a system event (stream id must start with `$`), as the server's own services do. */
  writeSystemEvent(streamId: string, type: string, data: unknown = {}): LogRecord {
    if (!streamId.startsWith('$')) throw new Error(`system stream ids start with $: ${streamId}`);
    const stream = this.streams.get(streamId);
    const events: ProposedEvent[] = [
      { id: randomUuid(), type, contentType: 'application/json', data: Buffer.from(JSON.stringify(data)), metadata: new Uint8Array() },
    ];
    this.commit(streamId, stream, events);
    return this.log[this.log.length - 1]!;
  }

  lastRevision(streamId: string): number {
    const s = this.streams.get(streamId);
    return s === undefined ? -1 : s.length - 1;
  }

  stream(streamId: string): readonly LogRecord[] | undefined {
    return this.streams.get(streamId);
  }

  /** Index of the first record at or after `position` (log.length when none). */
  indexAtOrAfter(position: number): number {
    let lo = 0;
    let hi = this.log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.log[mid]!.position < position) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the last record at or before `position` (-1 when none). */
  indexAtOrBefore(position: number): number {
    const i = this.indexAtOrAfter(position);
    if (i < this.log.length && this.log[i]!.position === position) return i;
    return i - 1;
  }

  /** Calls `listener` after every commit; returns the unsubscribe function. */
  onCommit(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A write, decided exactly as EventStoreDB's IndexWriter.CheckCommit decides it. */
  write(streamId: string, expected: Expected, events: readonly ProposedEvent[]): WriteOutcome {
    const size = events.reduce((n, e) => n + e.data.length + e.metadata.length + Buffer.byteLength(e.type), 0);
    if (size > this.maxAppendSize) return { kind: 'max_append_size_exceeded', maxAppendSize: this.maxAppendSize };
    const stream = this.streams.get(streamId);
    const current = stream === undefined ? -1 : stream.length - 1;

    if (stream === undefined) {
      if (expected.kind === 'any' || expected.kind === 'no_stream') return this.commitOrEmpty(streamId, stream, events);
      return { kind: 'wrong_expected_version', currentRevision: -1 };
    }

    if (expected.kind === 'any' || expected.kind === 'stream_exists') {
      if (events.length === 0) return this.commitOrEmpty(streamId, stream, events);
      // Every id already stands in this stream (anywhere in it): idempotent, nothing written.
      let end = -1;
      for (let i = 0; i < events.length; i++) {
        const at = this.committed.get(events[i]!.id);
        if (at === undefined || at.streamId !== streamId) {
          if (i === 0) return this.commitOrEmpty(streamId, stream, events);
          return { kind: 'wrong_expected_version', currentRevision: current }; // corrupted idempotency
        }
        end = at.revision;
      }
      return { kind: 'success', currentRevision: end, position: stream[end]!.position, idempotent: true };
    }

    const expectedVersion = expected.kind === 'no_stream' ? -1 : expected.revision;
    if (expectedVersion < current) {
      let revision = expectedVersion;
      for (let i = 0; i < events.length; i++) {
        revision += 1;
        const stored = stream[revision];
        if (stored !== undefined && stored.id === events[i]!.id) continue;
        // The first event is new: writing before the end of the stream. A later one: corrupted idempotency.
        return { kind: 'wrong_expected_version', currentRevision: current };
      }
      if (events.length === 0) return { kind: 'wrong_expected_version', currentRevision: current };
      return { kind: 'success', currentRevision: revision, position: stream[revision]!.position, idempotent: true };
    }
    if (expectedVersion > current) return { kind: 'wrong_expected_version', currentRevision: current };
    return this.commitOrEmpty(streamId, stream, events);
  }

  private commitOrEmpty(streamId: string, stream: LogRecord[] | undefined, events: readonly ProposedEvent[]): WriteOutcome {
    if (events.length === 0) {
      const last = stream?.[stream.length - 1];
      return { kind: 'success', currentRevision: last?.revision ?? -1, position: -1, idempotent: false };
    }
    const last = this.commit(streamId, stream, events);
    return { kind: 'success', currentRevision: last.revision, position: last.position, idempotent: false };
  }

  private commit(streamId: string, existing: LogRecord[] | undefined, events: readonly ProposedEvent[]): LogRecord {
    const stream = existing ?? [];
    if (existing === undefined) this.streams.set(streamId, stream);
    const created = BigInt(Math.trunc(this.now())) * TICKS_PER_MS + EPOCH_TICKS;
    let last: LogRecord | undefined;
    for (const e of events) {
      last = {
        streamId,
        revision: stream.length,
        id: e.id,
        type: e.type,
        contentType: e.contentType,
        data: e.data,
        metadata: e.metadata,
        created,
        position: this.nextPosition,
      };
      this.nextPosition += RECORD_OVERHEAD + Buffer.byteLength(streamId) + Buffer.byteLength(e.type) + e.data.length + e.metadata.length;
      stream.push(last);
      this.log.push(last);
      this.committed.set(e.id, { streamId, revision: last.revision });
    }
    for (const l of [...this.listeners]) l();
    return last!;
  }

  private seedSystemEvents(): void {
    this.writeSystemEvent('$settings', 'update-default-acl', { $userStreamAcl: { $r: '$all' } });
    this.writeSystemEvent('$user-admin', '$UserCreated', { loginName: 'admin' });
    this.writeSystemEvent('$users', '$User', 'admin');
  }
}

/** A random v4 UUID (lowercase canonical form). */
export function randomUuid(): string {
  return globalThis.crypto.randomUUID();
}

/** Whether a record's stream or type is a system one (EventStoreDB's `$` convention). */
export function isSystemRecord(r: LogRecord): boolean {
  return r.streamId.startsWith('$') || r.type.startsWith('$');
}
