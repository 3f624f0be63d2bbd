/**
 * `ResilientStore`: an EventStore decorator for a store that may go away for a while (an
 * EventStoreDB leader election, a network cut, a locked SQLite file).
 *
 * - Every operation is retried with backoff on transient failures (STORE_UNAVAILABLE,
 *   STORE_LOCKED, no answer in time) for up to `retryBudgetMs`, appends with the SAME event ids,
 *   so an attempt that did land but whose answer was lost makes the retry an idempotent re-append.
 * - A call-stream append (`call-…`, exact or `no_stream` expected revision) that still cannot be
 *   written is HELD in memory and acknowledged, so the call actor goes on and performs its
 *   effects: the BYE due at a deadline leaves on time even while the store is down. Held appends
 *   of a stream are written later, in order, with their ids and expected revisions. While the
 *   store is known to be down, such appends are held at once (no budget spent waiting).
 * - What cannot be recorded in the end (another writer moved the stream meanwhile, the process
 *   closes before the store returns, the hold limit is reached) is logged LOUDLY at error level
 *   with every event in full (`events not recorded in the event store`), and passed to
 *   `onUnrecorded`, so an operator can see and re-append it.
 * - Subscriptions that stop because the store failed are resumed after the last event delivered.
 *
 * Reads see only what the store has: held events are not visible until they are written.
 * Everything waits on the injected clock.
 */
import { ErrorCodes, VoxError, isVoxError, toVoxError } from '../domain/errors.ts';
import type { Clock } from '../domain/clock.ts';
import type { Logger } from '../log/logger.ts';
import {
  ANY,
  NO_STREAM,
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
} from '../store/port.ts';
import { sleep, withDeadline } from './clock-wait.ts';

export interface ResilientStoreOptions {
  clock: Clock;
  log: Logger;
  /**
   * How long one operation may take, retries included, before it fails (or, for call appends,
   * is held). An attempt with no answer by then counts as failed (it may still land; the retry
   * or the later write of held events then finds it, by event id). Default 1,000 ms.
   */
  retryBudgetMs?: number;
  /** First pause between attempts, doubling up to `maxBackoffMs`. Defaults 25 / 2,000 ms. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** How long one write of held events may take before it counts as failed. Default 2,000 ms. */
  drainAttemptMs?: number;
  /** Which streams' appends may be held. Default: call streams (`call-`). */
  holdable?: (streamId: string) => boolean;
  /** Most events held at once; beyond it appends fail with STORE_UNAVAILABLE. Default 100,000. */
  maxHeldEvents?: number;
  /** How long `close` waits for held events to be written. Default 5,000 ms. */
  closeDrainMs?: number;
  /** Told about every batch that could not be recorded (after the loud log). */
  onUnrecorded?: (report: UnrecordedReport) => void;
}

export interface UnrecordedReport {
  streamId: string;
  events: EventData[];
  /** Expected revision of the first append among them. */
  expectedRevision: ExpectedRevision;
  reason: string;
  code: string;
}

interface HeldAppend {
  events: EventData[];
  expected: ExpectedRevision;
  heldAt: number;
}

export function isTransientStoreError(e: unknown): boolean {
  return isVoxError(e, ErrorCodes.STORE_UNAVAILABLE) || isVoxError(e, ErrorCodes.STORE_LOCKED);
}

const callStream = (streamId: string) => streamId.startsWith('call-');

export class ResilientStore implements EventStore {
  readonly kind: string;
  private readonly inner: EventStore;
  private readonly o: Required<Omit<ResilientStoreOptions, 'onUnrecorded'>> & Pick<ResilientStoreOptions, 'onUnrecorded'>;
  private readonly held = new Map<string, HeldAppend[]>();
  private readonly draining = new Map<string, Promise<void>>();
  private readonly sleeps = new Set<{ cancel(): void }>();
  private readonly subs = new Set<ResilientSubscription>();
  private heldCount = 0;
  private downSince: number | undefined;
  private closed = false;

  constructor(inner: EventStore, options: ResilientStoreOptions) {
    this.inner = inner;
    this.kind = inner.kind;
    this.o = {
      retryBudgetMs: 1_000,
      backoffMs: 25,
      maxBackoffMs: 2_000,
      drainAttemptMs: 2_000,
      holdable: callStream,
      maxHeldEvents: 100_000,
      closeDrainMs: 5_000,
      ...options,
    };
  }

  /** True while the last operation found the store unreachable. */
  get isDown(): boolean {
    return this.downSince !== undefined;
  }
  /** Events acknowledged but not yet written. */
  get heldEvents(): number {
    return this.heldCount;
  }

  async append(streamId: string, events: EventData[], options?: { expectedRevision?: ExpectedRevision }): Promise<AppendResult> {
    this.assertOpen();
    const expected = options?.expectedRevision ?? ANY;
    const holdable = events.length > 0 && (expected === NO_STREAM || typeof expected === 'number') && this.o.holdable(streamId);
    if (this.held.get(streamId)?.length) {
      if (!holdable) throw this.unavailable(`${streamId} has events waiting to be written; this append cannot be ordered after them`, streamId);
      return this.hold(streamId, events, expected, 'earlier events of this stream are still held');
    }
    if (holdable && this.downSince !== undefined) return this.hold(streamId, events, expected, 'the store is unreachable');
    try {
      return await this.retrying(`appending to ${streamId}`, () => this.inner.append(streamId, events, { expectedRevision: expected }));
    } catch (err) {
      if (holdable && isTransientStoreError(err) && !this.closed) return this.hold(streamId, events, expected, (err as Error).message);
      throw err;
    }
  }

  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> {
    this.assertOpen();
    return this.retrying(`reading ${streamId}`, () => this.inner.readStream(streamId, options));
  }

  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    this.assertOpen();
    return this.retrying('reading all events', () => this.inner.readAll(options));
  }

  headPosition(): Promise<number> {
    this.assertOpen();
    return this.retrying('reading the head position', () => this.inner.headPosition());
  }

  subscribeToAll(options: SubscribeOptions, handler: SubscriptionHandler): Subscription {
    this.assertOpen();
    const sub = new ResilientSubscription(this.inner, options, handler, {
      pause: (ms) => this.pause(ms),
      log: this.o.log,
      backoffMs: this.o.backoffMs,
      maxBackoffMs: this.o.maxBackoffMs,
      onStop: (s) => this.subs.delete(s),
    });
    this.subs.add(sub);
    return sub;
  }

  /**
   * Waits (up to `closeDrainMs`) for held events to be written, reports loudly whatever is still
   * held, stops subscriptions, then closes the store underneath.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.draining.size) {
      const t = sleep(this.o.clock, this.o.closeDrainMs);
      await Promise.race([Promise.allSettled([...this.draining.values()]), t.promise]);
      t.cancel();
    }
    this.closed = true;
    for (const s of this.sleeps) s.cancel();
    for (const [streamId, q] of this.held) this.reportUnrecorded(streamId, q.splice(0), 'the process closed the store before it came back', ErrorCodes.STORE_UNAVAILABLE);
    this.held.clear();
    this.heldCount = 0;
    await Promise.allSettled([...this.subs].map((s) => s.close()));
    await this.inner.close();
  }

  // --- retries -------------------------------------------------------------------------------

  private async retrying<T>(doing: string, op: () => Promise<T>): Promise<T> {
    const { clock } = this.o;
    const deadline = clock.now() + this.o.retryBudgetMs;
    let pause = this.o.backoffMs;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await withDeadline(clock, Promise.resolve().then(op), deadline, () => this.unavailable(`no answer from the event store within ${this.o.retryBudgetMs} ms while ${doing}`));
        this.markUp();
        return result;
      } catch (err) {
        if (!isTransientStoreError(err) || this.closed) {
          if (err instanceof WrongExpectedRevisionError || isVoxError(err, ErrorCodes.STREAM_NOT_FOUND)) this.markUp();
          throw err;
        }
        this.markDown(err, doing);
        if (clock.now() + pause >= deadline) throw err;
        this.o.log.debug('event store operation failed; retrying', { doing, attempt, err });
        await this.pause(pause);
        pause = Math.min(pause * 2, this.o.maxBackoffMs);
      }
    }
  }

  private pause(ms: number): Promise<void> {
    const s = sleep(this.o.clock, ms);
    this.sleeps.add(s);
    return s.promise.finally(() => this.sleeps.delete(s));
  }

  private markDown(err: unknown, doing: string): void {
    if (this.downSince !== undefined) return;
    this.downSince = this.o.clock.now();
    this.o.log.error('event store unreachable; retrying, and holding call events in memory until it returns', { doing, err });
  }

  private markUp(): void {
    if (this.downSince === undefined) return;
    this.o.log.warn('event store reachable again', { downForMs: this.o.clock.now() - this.downSince, heldEvents: this.heldCount });
    this.downSince = undefined;
  }

  // --- held appends ----------------------------------------------------------------------------

  private hold(streamId: string, events: EventData[], expected: ExpectedRevision, why: string): AppendResult {
    if (this.heldCount + events.length > this.o.maxHeldEvents) {
      this.reportUnrecorded(streamId, [{ events, expected, heldAt: this.o.clock.now() }], `more than ${this.o.maxHeldEvents} events already held in memory`, ErrorCodes.STORE_UNAVAILABLE);
      throw this.unavailable(`event store unreachable and ${this.o.maxHeldEvents} events already held; ${streamId} not recorded`, streamId);
    }
    let q = this.held.get(streamId);
    if (!q) this.held.set(streamId, (q = []));
    q.push({ events, expected, heldAt: this.o.clock.now() });
    this.heldCount += events.length;
    this.o.log.error('event store unreachable: events acknowledged but held in memory, NOT YET DURABLE', {
      streamId,
      why,
      types: events.map((e) => e.type),
      eventIds: events.map((e) => e.id),
      heldEvents: this.heldCount,
    });
    if (!this.draining.has(streamId)) {
      const run = this.drain(streamId).finally(() => this.draining.delete(streamId));
      this.draining.set(streamId, run);
    }
    const first = expected === NO_STREAM ? -1 : (expected as number);
    return { nextExpectedRevision: first + events.length, position: -1 };
  }

  /** Writes a stream's held appends in order, retrying transient failures until written or closed. */
  private async drain(streamId: string): Promise<void> {
    let pause = this.o.backoffMs;
    await this.pause(0);
    for (;;) {
      const q = this.held.get(streamId);
      const h = q?.[0];
      if (!q || !h || this.closed) return;
      try {
        await withDeadline(this.o.clock, this.inner.append(streamId, h.events, { expectedRevision: h.expected }), this.o.clock.now() + this.o.drainAttemptMs, () =>
          this.unavailable(`no answer from the event store within ${this.o.drainAttemptMs} ms while writing held events of ${streamId}`),
        );
        q.shift();
        this.heldCount -= h.events.length;
        pause = this.o.backoffMs;
        this.markUp();
        this.o.log.warn('held events written to the event store', { streamId, types: h.events.map((e) => e.type), heldForMs: this.o.clock.now() - h.heldAt });
        if (q.length === 0) this.held.delete(streamId);
      } catch (err) {
        if (this.closed) return;
        if (isTransientStoreError(err)) {
          this.markDown(err, `writing held events of ${streamId}`);
          await this.pause(pause);
          pause = Math.min(pause * 2, this.o.maxBackoffMs);
          continue;
        }
        // A conflict or a refusal: this append, and every later one of the stream built on it, is lost.
        const dropped = q.splice(0);
        this.held.delete(streamId);
        this.heldCount -= dropped.reduce((n, x) => n + x.events.length, 0);
        const e = toVoxError(err, ErrorCodes.STORE_UNAVAILABLE);
        this.reportUnrecorded(streamId, dropped, e.message, e.code);
        return;
      }
    }
  }

  private reportUnrecorded(streamId: string, appends: HeldAppend[], reason: string, code: string): void {
    if (!appends.length) return;
    const events = appends.flatMap((a) => a.events);
    this.o.log.error('EVENTS NOT RECORDED in the event store: the runtime acted on them, the ledger does not have them', {
      streamId,
      reason,
      code,
      expectedRevision: String(appends[0]!.expected),
      events: events.map((e) => ({ id: e.id, type: e.type, data: e.data, metadata: e.metadata })),
    });
    try {
      this.o.onUnrecorded?.({ streamId, events, expectedRevision: appends[0]!.expected, reason, code });
    } catch (err) {
      this.o.log.error('onUnrecorded listener threw', { err });
    }
  }

  private unavailable(message: string, streamId?: string): VoxError {
    return new VoxError(ErrorCodes.STORE_UNAVAILABLE, message, streamId ? { streamId } : undefined);
  }

  private assertOpen(): void {
    if (this.closed) throw new VoxError(ErrorCodes.STORE_CLOSED, 'the event store is closed');
  }
}

interface ResubscribeDeps {
  pause(ms: number): Promise<void>;
  log: Logger;
  backoffMs: number;
  maxBackoffMs: number;
  onStop(sub: ResilientSubscription): void;
}

/** A catch-up subscription that resumes after the last delivered event when the store fails. */
class ResilientSubscription implements Subscription {
  readonly caughtUp: Promise<void>;
  readonly done: Promise<void>;
  private inner: Subscription | undefined;
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(store: EventStore, options: SubscribeOptions, handler: SubscriptionHandler, deps: ResubscribeDeps) {
    let markCaughtUp!: () => void;
    let failCaughtUp!: (e: unknown) => void;
    this.caughtUp = new Promise<void>((resolve, reject) => {
      markCaughtUp = resolve;
      failCaughtUp = reject;
    });
    this.caughtUp.catch(() => undefined);
    this.done = (async () => {
      let after = options.after ?? -1;
      let pause = deps.backoffMs;
      let handlerError: { error: unknown } | undefined;
      const wrapped: SubscriptionHandler = async (r) => {
        try {
          await handler(r);
        } catch (error) {
          handlerError = { error };
          throw error;
        }
        after = r.position;
      };
      try {
        while (!this.closed) {
          try {
            const sub = store.subscribeToAll({ ...options, ...(after >= 0 ? { after } : {}) }, wrapped);
            this.inner = sub;
            void sub.caughtUp.then(markCaughtUp, () => undefined);
            await sub.done;
            return;
          } catch (err) {
            if (handlerError) throw handlerError.error;
            if (this.closed) return;
            if (!isTransientStoreError(err)) throw err;
            deps.log.warn('subscription stopped by a store failure; resuming', { after, err });
            await Promise.race([deps.pause(pause), new Promise<void>((r) => (this.wake = r))]);
            pause = Math.min(pause * 2, deps.maxBackoffMs);
          }
        }
      } catch (err) {
        failCaughtUp(err);
        throw err;
      } finally {
        failCaughtUp(new VoxError(ErrorCodes.STORE_CLOSED, 'subscription stopped before it caught up'));
        deps.onStop(this);
      }
    })();
    this.done.catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.inner?.close();
    await this.done.catch(() => undefined);
  }
}

