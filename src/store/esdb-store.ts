/**
 * The EventStoreDB event store adapter (kind 'esdb'), on `@eventstore/db-client` 6.2.1.
 *
 * Connection strings, passed through to the client (TLS options included):
 *   single node   esdb://host:2113?tls=false
 *   cluster       esdb://user:pass@a:2113,b:2113,c:2113?tls=true&nodePreference=leader
 *   DNS discovery esdb+discover://cluster.example.com:2113
 *
 * Mapping to the port (src/store/port.ts):
 * - stream revisions and expected revisions are EventStoreDB's own; `position` is the commit
 *   position; events of system streams (`$…`) are never returned, delivered or counted;
 * - data and metadata are JSON (see esdb/event-codec.ts for ids that are not UUIDs);
 * - a conflict is always WrongExpectedRevisionError, with actual 'no_stream' for a missing
 *   stream (the client's "no_stream" string is mapped, never parsed as a number);
 * - re-appends follow the port's rules: EventStoreDB deduplicates a retry by event id; where its
 *   check is looser than the port's (known ids in another order, or after a new first id), the
 *   adapter decides from what it knows of the stream (esdb/stream-ids.ts). As on EventStoreDB, an
 *   id may stand in several streams (run the conformance suite with `uniqueEventIds: false`);
 * - NotLeader, Unavailable, DeadlineExceeded and commit timeouts are retried with the same
 *   event ids (idempotent), following the client to the new leader; after the last attempt the
 *   failure is VoxError STORE_UNAVAILABLE naming the hosts (never the credentials);
 * - `readAll` filters by prefix on the client (6.2.1's readAll sends no server-side filter);
 *   `subscribeToAll` filters on the server.
 *
 * The client connects lazily; `connect` probes with a one-event read of `$all` and fails with
 * STORE_UNAVAILABLE when the server cannot be reached. Reading `$all` needs a user allowed to
 * (by default: $admins / $ops).
 */
import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  START,
  type AllStreamResolvedEvent,
  type AppendExpectedRevision,
  type Position,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { ErrorCodes, VoxError } from '../domain/errors.ts';
import { emptyAppendResult, revisionMatches, validateAppend } from './append-rules.ts';
import { describeHosts } from './esdb/connection-string.ts';
import { mapAppendError, mapReadError, unavailable } from './esdb/errors.ts';
import { fromResolved, isSystemEvent, toClientEvent, toPosition } from './esdb/event-codec.ts';
import { normaliseRetry, withRetry, type EsdbLog, type RetryPolicy } from './esdb/retry.ts';
import { StreamIdCache } from './esdb/stream-ids.ts';
import { decideLocally, positionAtRevision } from './esdb/local-reappend.ts';
import { EsdbSubscription } from './esdb/subscription.ts';
import {
  ANY,
  NO_STREAM,
  STREAM_EXISTS,
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
import { normaliseAllRead, normaliseStreamRead, prefixMatcher } from './read-options.ts';

export type { EsdbLog, RetryPolicy } from './esdb/retry.ts';

export interface EsdbConnectOptions {
  /** An EventStoreDB connection string (esdb:// or esdb+discover://). */
  connectionString: string;
  /** Structured log sink (e.g. a Logger's `fn`): retries, reconnections, connection. */
  log?: EsdbLog;
  /** Retries of transient failures (default 5 attempts, 100 ms doubling backoff). */
  retry?: Partial<RetryPolicy>;
  /** How long the connection probe may take before STORE_UNAVAILABLE (default 5,000 ms per attempt). */
  connectTimeoutMs?: number;
}

/** Events per page when the adapter pages through `$all`. */
const PAGE = 512;

export class EsdbEventStore implements EventStore {
  readonly kind = 'esdb';
  /** Host list of the connection string, for messages (no credentials). */
  readonly hosts: string;
  private closed = false;
  private readonly subscriptions = new Set<EsdbSubscription>();
  private readonly known = new StreamIdCache();

  private constructor(
    private readonly client: EventStoreDBClient,
    hosts: string,
    private readonly retry: RetryPolicy,
    private readonly log: EsdbLog | undefined,
  ) {
    this.hosts = hosts;
  }

  /**
   * Creates the client and checks the server answers (a one-event read of `$all`, retried like
   * any read). Throws VoxError CONFIG_INVALID for a malformed connection string and
   * STORE_UNAVAILABLE when no node can be reached.
   */
  static async connect(options: EsdbConnectOptions): Promise<EsdbEventStore> {
    const hosts = describeHosts(options.connectionString);
    const retry = normaliseRetry(options.retry);
    let client: EventStoreDBClient;
    try {
      client = EventStoreDBClient.connectionString(options.connectionString);
    } catch (e) {
      // The client's parse errors quote the connection string: never pass them on.
      throw new VoxError(ErrorCodes.CONFIG_INVALID, `invalid EventStoreDB connection string for ${hosts}`, { hosts });
    }
    const store = new EsdbEventStore(client, hosts, retry, options.log);
    const timeoutMs = options.connectTimeoutMs ?? 5_000;
    try {
      await withRetry('connection probe', () => store.probe(timeoutMs), retry, options.log);
    } catch (e) {
      await store.dispose();
      throw unavailable('connection', e, hosts);
    }
    options.log?.('info', 'connected to EventStoreDB', { hosts });
    return store;
  }

  async append(streamId: string, events: EventData[], options?: { expectedRevision?: ExpectedRevision }): Promise<AppendResult> {
    this.assertOpen();
    const expected = options?.expectedRevision ?? ANY;
    validateAppend(streamId, events, expected);
    if (events.length === 0) return this.emptyAppend(streamId, expected);
    const clientEvents = events.map((e) => toClientEvent(streamId, e));

    const local = await decideLocally(this.known, (id, o) => this.readStreamRaw(id, o), streamId, events, expected);
    if (local !== undefined) return local;

    const ids = events.map((e) => e.id);
    try {
      const r = await withRetry(
        `append to ${streamId}`,
        () => this.client.appendToStream(streamId, clientEvents, { expectedRevision: toClientExpected(expected), requiresLeader: true }),
        this.retry,
        this.log,
        () => this.closed,
      );
      const last = Number(r.nextExpectedRevision);
      let position = toPosition(r.position?.commit);
      // Servers that answer an idempotent append without a position: look the event up.
      if (position === undefined) position = await positionAtRevision((id, o) => this.readStreamRaw(id, o), streamId, last);
      this.known.recordAppend(streamId, ids, last, position);
      return { nextExpectedRevision: last, position };
    } catch (e) {
      this.known.delete(streamId);
      throw mapAppendError(e, streamId, expected, this.hosts);
    }
  }

  async readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> {
    this.assertOpen();
    const { fromRevision, maxCount, backwards } = normaliseStreamRead(options);
    if (maxCount === 0) {
      await this.readStreamRaw(streamId, { fromRevision, maxCount: 1, backwards });
      return [];
    }
    const events = await this.readStreamRaw(streamId, { fromRevision, maxCount, backwards });
    if (!backwards && (fromRevision ?? 0) === 0 && events.length > 0 && events.length < maxCount) {
      this.known.delete(streamId);
      this.known.extend(streamId, 0, events);
    }
    return events;
  }

  async readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    this.assertOpen();
    const { after, maxCount, prefixes } = normaliseAllRead(options);
    const matches = prefixMatcher(prefixes);
    const out: RecordedEvent[] = [];
    let from: Position | typeof START = after >= 0 ? { commit: BigInt(after), prepare: BigInt(after) } : START;
    let cursor = after;
    while (out.length < maxCount) {
      const page = await this.readAllPage(from, FORWARDS, PAGE);
      for (const resolved of page) {
        const e = fromResolved(resolved);
        if (e === undefined || e.position <= cursor) continue;
        cursor = e.position;
        if (isSystemEvent(e.streamId, e.type) || (matches !== undefined && !matches(e.streamId))) continue;
        out.push(e);
        if (out.length >= maxCount) break;
      }
      if (page.length < PAGE) break;
      const lastPos = page[page.length - 1]!.event?.position ?? positionOf(page[page.length - 1]!);
      if (lastPos === undefined) break;
      from = lastPos;
    }
    return out;
  }

  async headPosition(): Promise<number> {
    this.assertOpen();
    let from: Position | typeof END = END;
    let before = Infinity;
    for (;;) {
      const page = await this.readAllPage(from, BACKWARDS, 64);
      for (const resolved of page) {
        const e = fromResolved(resolved);
        if (e === undefined || e.position >= before) continue;
        before = e.position;
        if (!isSystemEvent(e.streamId, e.type)) return e.position;
      }
      if (page.length < 64) return -1;
      const lastPos = page[page.length - 1]!.event?.position ?? positionOf(page[page.length - 1]!);
      if (lastPos === undefined) return -1;
      from = lastPos;
    }
  }

  subscribeToAll(options: SubscribeOptions, handler: SubscriptionHandler): Subscription {
    this.assertOpen();
    const { after, prefixes } = normaliseAllRead(options);
    const sub = new EsdbSubscription({
      client: this.client,
      after,
      prefixes,
      handler,
      retry: this.retry,
      hosts: this.hosts,
      log: this.log,
      headOfAll: () => this.lastPositionOfAll(),
      onStop: (s) => this.subscriptions.delete(s),
    });
    this.subscriptions.add(sub);
    return sub;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    await this.dispose();
  }

  // ------------------------------------------------------------------ internals

  private assertOpen(): void {
    if (this.closed) throw new VoxError(ErrorCodes.STORE_CLOSED, `the EventStoreDB event store (${this.hosts}) is closed`);
  }

  /**
   * Cancels the client's calls in flight. The client has no way to close its channel without
   * possibly opening one first (and, for a cluster, running discovery); grpc-js keeps an idle
   * channel from holding the process open, and drops it when unused.
   */
  private async dispose(): Promise<void> {
    await this.client.dispose().catch(() => undefined);
  }

  /** One event read of `$all`: the lazy client connects (and discovers the leader) here. */
  private async probe(timeoutMs: number): Promise<void> {
    const stream = this.client.readAll({ maxCount: 1, direction: FORWARDS, fromPosition: START });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new VoxError(ErrorCodes.STORE_UNAVAILABLE, `no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([
        (async () => {
          for await (const _ of stream) void _;
        })(),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
      if (!stream.destroyed) await stream.cancel().catch(() => undefined);
    }
  }

  private async emptyAppend(streamId: string, expected: ExpectedRevision): Promise<AppendResult> {
    let last: RecordedEvent | undefined;
    try {
      [last] = await this.readStreamRaw(streamId, { fromRevision: undefined, maxCount: 1, backwards: true });
    } catch (e) {
      if (!(e instanceof StreamNotFoundError)) throw e;
    }
    if (!revisionMatches(expected, last?.revision)) throw new WrongExpectedRevisionError(streamId, expected, last?.revision ?? NO_STREAM);
    return emptyAppendResult(last);
  }

  private async readStreamRaw(
    streamId: string,
    o: { fromRevision: number | undefined; maxCount: number; backwards: boolean },
  ): Promise<RecordedEvent[]> {
    const fromRevision = o.fromRevision !== undefined ? BigInt(o.fromRevision) : o.backwards ? END : START;
    try {
      return await withRetry(
        `read of ${streamId}`,
        async () => {
          const out: RecordedEvent[] = [];
          for await (const resolved of this.client.readStream(streamId, { fromRevision, maxCount: o.maxCount, direction: o.backwards ? BACKWARDS : FORWARDS })) {
            const e = fromResolved(resolved as ResolvedEvent);
            if (e !== undefined) out.push(e);
          }
          return out;
        },
        this.retry,
        this.log,
        () => this.closed,
      );
    } catch (e) {
      throw mapReadError(e, `read of ${streamId}`, this.hosts, streamId);
    }
  }

  private async readAllPage(fromPosition: Position | typeof START | typeof END, direction: typeof FORWARDS | typeof BACKWARDS, maxCount: number): Promise<AllStreamResolvedEvent[]> {
    try {
      return await withRetry(
        'read of $all',
        async () => {
          const page: AllStreamResolvedEvent[] = [];
          for await (const resolved of this.client.readAll({ fromPosition, direction, maxCount })) page.push(resolved);
          return page;
        },
        this.retry,
        this.log,
        () => this.closed,
      );
    } catch (e) {
      throw mapReadError(e, 'read of $all', this.hosts);
    }
  }

  /** Position of the last event in `$all`, system events included; -1 when empty. */
  private async lastPositionOfAll(): Promise<number | undefined> {
    const [last] = await this.readAllPage(END, BACKWARDS, 1);
    if (last === undefined) return -1;
    const p = last.event?.position ?? positionOf(last);
    return p === undefined ? undefined : toPosition(p.commit);
  }
}

function toClientExpected(expected: ExpectedRevision): AppendExpectedRevision {
  if (expected === ANY || expected === NO_STREAM || expected === STREAM_EXISTS) return expected;
  return BigInt(expected);
}

function positionOf(resolved: AllStreamResolvedEvent): Position | undefined {
  const c = resolved.commitPosition;
  return c === undefined ? undefined : { commit: c, prepare: c };
}
