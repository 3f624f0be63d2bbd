/**
 * A catch-up subscription to `$all` on EventStoreDB, filtered on the server to our stream
 * prefixes (or, without prefixes, to non-system streams), delivering each event to the handler
 * one at a time, in position order, exactly once.
 *
 * - caughtUp: resolves once every event the server sent before its CaughtUp message (21.10+
 *   servers send one when history is done) has been handled. Servers that never send it are
 *   covered by a fallback: the position of the last event in `$all` when the subscription
 *   started; an event or a checkpoint at or past it means history is done.
 * - Transient failures (leader change, node down, timeouts) resubscribe from the last position
 *   delivered, with the store's retry policy; events already delivered are skipped, so the
 *   handler still sees each event once. When attempts run out, `done` rejects with
 *   STORE_UNAVAILABLE.
 * - A throwing handler stops the subscription: `done` (and `caughtUp`, if pending) reject with
 *   that very error.
 */
import { START, streamNameFilter, type AllStreamResolvedEvent, type AllStreamSubscription, type EventStoreDBClient, type Position } from '@eventstore/db-client';
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import type { RecordedEvent, Subscription, SubscriptionHandler } from '../port.ts';
import { fromResolved, isSystemEvent, toPosition } from './event-codec.ts';
import { isTransient, unavailable, describeClientError } from './errors.ts';
import { backoffDelay, type EsdbLog, type RetryPolicy } from './retry.ts';

export interface EsdbSubscriptionDeps {
  client: EventStoreDBClient;
  /** Deliver events strictly after this position (-1: from the beginning). */
  after: number;
  prefixes: readonly string[] | undefined;
  handler: SubscriptionHandler;
  retry: RetryPolicy;
  hosts: string;
  log: EsdbLog | undefined;
  /** The position of the last event in `$all` (system events included), -1 when empty; undefined when it could not be read. */
  headOfAll: () => Promise<number | undefined>;
  onStop: (sub: EsdbSubscription) => void;
}

/** Raised inside the loop to tell a handler failure from a store failure. */
class HandlerFailure {
  constructor(readonly error: unknown) {}
}

export class EsdbSubscription implements Subscription {
  readonly caughtUp: Promise<void>;
  readonly done: Promise<void>;
  private closed = false;
  private current: AllStreamSubscription | undefined;
  private wake: (() => void) | undefined;
  private isCaughtUp = false;
  private markCaughtUp!: () => void;
  private failCaughtUp!: (e: unknown) => void;
  /** Last position handed to the handler (or skipped as already past). */
  private cursor: number;
  /** Whether the current server subscription delivered anything (resets the failure count). */
  private progressed = false;
  /** Ends a backoff wait early (on close). */
  private interruptBackoff: (() => void) | undefined;

  constructor(private readonly deps: EsdbSubscriptionDeps) {
    this.cursor = deps.after;
    this.caughtUp = new Promise<void>((resolve, reject) => {
      this.markCaughtUp = () => {
        this.isCaughtUp = true;
        resolve();
      };
      this.failCaughtUp = reject;
    });
    this.done = this.run();
    this.caughtUp.catch(() => undefined);
    this.done.catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    this.interruptBackoff?.();
    const sub = this.current;
    if (sub !== undefined) await sub.unsubscribe().catch(() => undefined);
    await this.done.catch(() => undefined);
  }

  private async run(): Promise<void> {
    try {
      await Promise.resolve();
      const head = await this.deps.headOfAll().catch(() => undefined);
      let failures = 0;
      while (!this.closed) {
        this.progressed = false;
        try {
          await this.follow(head);
          if (this.closed) return;
          throw new VoxError(ErrorCodes.STORE_UNAVAILABLE, 'the subscription stream ended');
        } catch (e) {
          if (e instanceof HandlerFailure) throw e.error;
          if (this.closed) return;
          if (this.progressed) failures = 0;
          failures++;
          const transient = isTransient(e) || (e instanceof VoxError && e.code === ErrorCodes.STORE_UNAVAILABLE);
          if (!transient || failures >= this.deps.retry.attempts) throw unavailable('subscription to $all', e, this.deps.hosts);
          const delay = backoffDelay(this.deps.retry, failures);
          this.deps.log?.('warn', 'EventStoreDB subscription dropped, resubscribing', { after: this.cursor, attempt: failures, delayMs: delay, reason: describeClientError(e) });
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, delay);
            this.interruptBackoff = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          this.interruptBackoff = undefined;
        }
      }
    } catch (e) {
      this.closed = true;
      this.failCaughtUp(e);
      throw e;
    } finally {
      this.failCaughtUp(new VoxError(ErrorCodes.STORE_CLOSED, 'subscription stopped before it caught up'));
      const sub = this.current;
      this.current = undefined;
      if (sub !== undefined) void sub.unsubscribe().catch(() => undefined);
      this.deps.onStop(this);
    }
  }

  /**
   * One server subscription from the cursor. Resolves when it ends or the subscription is
   * closed, rejects with its error; handler errors come wrapped in HandlerFailure.
   */
  private async follow(head: number | undefined): Promise<void> {
    const { client, prefixes } = this.deps;
    let read = 0;
    let handled = 0;
    let target: number | undefined;
    let failure: unknown;
    let ended = false;
    const fromPosition: Position | typeof START = this.cursor >= 0 ? { commit: BigInt(this.cursor), prepare: BigInt(this.cursor) } : START;
    const checkpointReached = (_s: unknown, position: Position): void => {
      const p = toPosition(position.commit);
      if (head !== undefined && p !== undefined && p >= head) this.caughtUpAfter(handled, (target = Math.min(target ?? Infinity, read + sub.readableLength)));
    };
    const filter =
      prefixes !== undefined ? streamNameFilter({ prefixes: [...prefixes], checkpointReached }) : streamNameFilter({ regex: '^[^$]', checkpointReached });
    const sub = client.subscribeToAll({ fromPosition, filter });
    this.current = sub;
    const wakeUp = () => this.wake?.();
    sub.on('error', (e) => {
      failure ??= e;
      wakeUp();
    });
    sub.on('end', () => {
      ended = true;
      wakeUp();
    });
    sub.on('close', () => {
      ended = true;
      wakeUp();
    });
    sub.on('readable', wakeUp);
    sub.on('caughtUp', () => {
      target = Math.min(target ?? Infinity, read + sub.readableLength);
      this.caughtUpAfter(handled, target);
    });
    sub.on('confirmation', () => {
      // Nothing after the cursor existed when we started: caught up as soon as the server answers.
      if (head !== undefined && head <= this.cursor) this.caughtUpAfter(handled, (target = Math.min(target ?? Infinity, read + sub.readableLength)));
    });
    try {
      while (!this.closed) {
        if (failure !== undefined) throw failure;
        const item = sub.read() as AllStreamResolvedEvent | null;
        if (item === null) {
          if (ended) return;
          await new Promise<void>((resolve) => (this.wake = resolve));
          this.wake = undefined;
          continue;
        }
        read++;
        const event = fromResolved(item);
        if (event !== undefined && this.wanted(event)) {
          try {
            const r = this.deps.handler(event);
            if (r !== undefined && typeof (r as Promise<void>).then === 'function') await r;
          } catch (e) {
            throw new HandlerFailure(e);
          }
          this.cursor = event.position;
          this.progressed = true;
          if (head !== undefined && event.position >= head) target = Math.min(target ?? Infinity, read);
        } else if (event !== undefined && event.position > this.cursor) {
          this.cursor = event.position;
        }
        handled++;
        if (target !== undefined) this.caughtUpAfter(handled, target);
      }
    } finally {
      if (this.current === sub) this.current = undefined;
      if (!sub.destroyed) void sub.unsubscribe().catch(() => undefined);
    }
  }

  /** Not a system event, in our prefixes, and past the cursor (not delivered before). */
  private wanted(e: RecordedEvent): boolean {
    if (e.position <= this.cursor) return false;
    if (isSystemEvent(e.streamId, e.type)) return false;
    const prefixes = this.deps.prefixes;
    return prefixes === undefined || prefixes.some((p) => e.streamId.startsWith(p));
  }

  private caughtUpAfter(handled: number, target: number): void {
    if (!this.isCaughtUp && handled >= target) this.markCaughtUp();
  }
}
