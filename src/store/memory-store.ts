/**
 * The in-memory event store (kind 'memory'): tests, benchmarks, single-process experiments.
 * Nothing survives the process; "durable" means "in this process's memory".
 *
 * Kept lean for millions of events: one frozen record per event, referenced from the global log
 * (indexed by position, which is dense from 0), from its stream, and from the id index.
 * Event `data` and `metadata` objects are stored and returned by reference, not copied:
 * callers must not mutate them after appending or after reading.
 */
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
import { duplicateIdsError, emptyAppendResult, findCleanReappend, revisionMatches, validateAppend, type StoredEventLookup } from './append-rules.ts';
import { CatchUpSubscription, ChangeSignal, type LogBatch } from './catch-up.ts';
import { normaliseAllRead, normaliseStreamRead, prefixMatcher } from './read-options.ts';

/** Most events one subscription read examines when filtering, so a read never blocks for long. */
const MAX_SCAN = 16_384;

/**
 * Event id → record. Sharded because one V8 Map holds at most 2^24 entries, fewer than the
 * event counts benchmarks reach.
 */
class IdIndex {
  private readonly shards: Array<Map<string, RecordedEvent>> = Array.from({ length: 16 }, () => new Map());
  private shard(id: string): Map<string, RecordedEvent> {
    return this.shards[(id.charCodeAt(id.length - 1) ^ id.charCodeAt(0)) & 15]!;
  }
  get(id: string): RecordedEvent | undefined {
    return this.shard(id).get(id);
  }
  set(record: RecordedEvent): void {
    this.shard(record.id).set(record.id, record);
  }
}

export class MemoryEventStore implements EventStore {
  readonly kind = 'memory';
  private readonly log: RecordedEvent[] = [];
  private readonly streams = new Map<string, RecordedEvent[]>();
  private readonly ids = new IdIndex();
  private readonly signal = new ChangeSignal();
  private readonly subscriptions = new Set<CatchUpSubscription>();
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly lookup: StoredEventLookup = {
    locate: (id) => this.ids.get(id),
    idsFrom: (streamId, fromRevision, count) => (this.streams.get(streamId) ?? []).slice(fromRevision, fromRevision + count),
  };

  async append(streamId: string, events: EventData[], options?: { expectedRevision?: ExpectedRevision }): Promise<AppendResult> {
    this.assertOpen();
    const expected = options?.expectedRevision ?? ANY;
    validateAppend(streamId, events, expected);
    const stream = this.streams.get(streamId);
    const current = stream === undefined ? undefined : stream.length - 1;
    const conflict = !revisionMatches(expected, current);
    if (events.length === 0) {
      if (conflict) throw new WrongExpectedRevisionError(streamId, expected, current ?? NO_STREAM);
      const last = stream?.[stream.length - 1];
      return emptyAppendResult(last);
    }
    if (conflict || this.storesAnyId(events)) {
      const again = findCleanReappend(this.lookup, streamId, events, expected);
      if (again !== undefined) return again;
      if (conflict) throw new WrongExpectedRevisionError(streamId, expected, current ?? NO_STREAM);
      throw duplicateIdsError(streamId, events.filter((e) => this.ids.get(e.id) !== undefined).map((e) => e.id));
    }
    return this.write(streamId, stream, events);
  }

  async readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> {
    this.assertOpen();
    const { fromRevision, maxCount, backwards } = normaliseStreamRead(options);
    const stream = this.streams.get(streamId);
    if (stream === undefined) throw new StreamNotFoundError(streamId);
    if (!backwards) {
      const from = fromRevision ?? 0;
      return stream.slice(from, from + Math.min(maxCount, stream.length));
    }
    const out: RecordedEvent[] = [];
    for (let r = Math.min(fromRevision ?? stream.length - 1, stream.length - 1); r >= 0 && out.length < maxCount; r--) out.push(stream[r]!);
    return out;
  }

  async readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    this.assertOpen();
    const { after, maxCount, prefixes } = normaliseAllRead(options);
    const matches = prefixMatcher(prefixes);
    const start = after + 1;
    if (matches === undefined) return this.log.slice(start, start + Math.min(maxCount, this.log.length));
    const out: RecordedEvent[] = [];
    for (let p = start; p < this.log.length && out.length < maxCount; p++) {
      const e = this.log[p]!;
      if (matches(e.streamId)) out.push(e);
    }
    return out;
  }

  async headPosition(): Promise<number> {
    this.assertOpen();
    return this.log.length - 1;
  }

  subscribeToAll(options: SubscribeOptions, handler: SubscriptionHandler): Subscription {
    this.assertOpen();
    const { after, prefixes } = normaliseAllRead(options);
    const matches = prefixMatcher(prefixes);
    const source = {
      read: (from: number, limit: number): LogBatch => this.readBatch(from, limit, matches),
      changed: () => this.signal.wait(),
    };
    const sub = new CatchUpSubscription(source, after, handler, (s) => this.subscriptions.delete(s));
    this.subscriptions.add(sub);
    return sub;
  }

  /** Stops the subscriptions; every later call fails with STORE_CLOSED. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.close()));
  }

  private storesAnyId(events: readonly EventData[]): boolean {
    for (const e of events) if (this.ids.get(e.id) !== undefined) return true;
    return false;
  }

  private write(streamId: string, existing: RecordedEvent[] | undefined, events: readonly EventData[]): AppendResult {
    const stream = existing ?? [];
    if (existing === undefined) this.streams.set(streamId, stream);
    let last: RecordedEvent | undefined;
    for (const e of events) {
      last = Object.freeze({
        id: e.id,
        type: e.type,
        data: e.data,
        metadata: e.metadata,
        streamId,
        revision: stream.length,
        position: this.log.length,
      });
      this.log.push(last);
      stream.push(last);
      this.ids.set(last);
    }
    this.signal.notify();
    return { nextExpectedRevision: last!.revision, position: last!.position };
  }

  private readBatch(after: number, limit: number, matches: ((streamId: string) => boolean) | undefined): LogBatch {
    this.assertOpen();
    const start = after + 1;
    const head = this.log.length - 1;
    if (matches === undefined) {
      const events = this.log.slice(start, start + limit);
      const scannedTo = events.length > 0 ? events[events.length - 1]!.position : Math.max(after, head);
      return { events, scannedTo, atHead: scannedTo >= head };
    }
    const events: RecordedEvent[] = [];
    const end = Math.min(head, start + MAX_SCAN - 1);
    let p = start;
    for (; p <= end && events.length < limit; p++) {
      const e = this.log[p]!;
      if (matches(e.streamId)) events.push(e);
    }
    const scannedTo = Math.max(after, p - 1);
    return { events, scannedTo, atHead: scannedTo >= head };
  }

  private assertOpen(): void {
    if (this.closed) throw new VoxError(ErrorCodes.STORE_CLOSED, 'the memory event store is closed');
  }
}
