/**
 * The catch-up subscription pump shared by the embedded adapters. It reads the global log in
 * batches after a cursor, hands each event to the handler in position order (awaiting async
 * handlers one at a time), and once a read comes back short (the head is reached) it waits for
 * the adapter to signal new events (or for a poll interval, for writers in other processes).
 */
import { ErrorCodes, VoxError } from '../domain/errors.ts';
import type { RecordedEvent, Subscription, SubscriptionHandler } from './port.ts';

/** One read of the global log: matching events after a position, and how far it looked. */
export interface LogBatch {
  /** Matching events, in position order. */
  events: RecordedEvent[];
  /** Highest position examined (>= the last event's position); the next read starts after it. */
  scannedTo: number;
  /** True when the read reached the head of the log as it stood. */
  atHead: boolean;
}

export interface LogSource {
  /** Reads matching events strictly after `after`, at most `limit` of them. */
  read(after: number, limit: number): LogBatch;
  /** Resolves when new events may exist (a local append, or a poll tick). */
  changed(): ChangeWait;
}

/** A pending wait for new events; `cancel` releases it early (on close). */
export interface ChangeWait {
  promise: Promise<void>;
  cancel(): void;
}

/** Wakes every waiter at once; used by adapters to announce appended events. */
export class ChangeSignal {
  private waiters: Array<() => void> = [];

  get hasWaiters(): boolean {
    return this.waiters.length > 0;
  }

  /** A wait that resolves on the next `notify()`, or after `pollMs` when given. */
  wait(pollMs?: number): ChangeWait {
    let wake!: () => void;
    const promise = new Promise<void>((resolve) => (wake = resolve));
    let timer: NodeJS.Timeout | undefined;
    const release = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      const i = this.waiters.indexOf(release);
      if (i >= 0) this.waiters.splice(i, 1);
      wake();
    };
    this.waiters.push(release);
    if (pollMs !== undefined) timer = setTimeout(release, pollMs);
    return { promise, cancel: release };
  }

  notify(): void {
    if (this.waiters.length === 0) return;
    const all = this.waiters;
    this.waiters = [];
    for (const release of all) release();
  }
}

const BATCH = 512;

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as PromiseLike<unknown> | undefined)?.then === 'function';
}

/** A running catch-up subscription over a LogSource. */
export class CatchUpSubscription implements Subscription {
  readonly caughtUp: Promise<void>;
  readonly done: Promise<void>;
  private closed = false;
  private wait: ChangeWait | undefined;
  private markCaughtUp!: () => void;
  private failCaughtUp!: (e: unknown) => void;

  /**
   * @param after   deliver events strictly after this position (-1: from the beginning)
   * @param onStop  called once when the pump stops, so the adapter can forget the subscription
   */
  constructor(
    private readonly source: LogSource,
    after: number,
    private readonly handler: SubscriptionHandler,
    private readonly onStop: (sub: CatchUpSubscription) => void,
  ) {
    this.caughtUp = new Promise<void>((resolve, reject) => {
      this.markCaughtUp = resolve;
      this.failCaughtUp = reject;
    });
    this.done = this.pump(after);
    // Both promises are observed here so an unobserved failure does not crash the process;
    // callers still see the rejection when they await them.
    this.caughtUp.catch(() => undefined);
    this.done.catch(() => undefined);
  }

  /** Stops delivery after the handler call in flight; resolves once the pump has stopped. */
  async close(): Promise<void> {
    this.closed = true;
    this.wait?.cancel();
    await this.done.catch(() => undefined);
  }

  private async pump(after: number): Promise<void> {
    let cursor = after;
    try {
      // Start on a later turn so the constructor returns before the first handler call.
      await Promise.resolve();
      while (!this.closed) {
        const batch = this.source.read(cursor, BATCH);
        for (const event of batch.events) {
          if (this.closed) return;
          const r = this.handler(event);
          if (isThenable(r)) await r;
          cursor = event.position;
        }
        if (this.closed) return;
        cursor = Math.max(cursor, batch.scannedTo);
        if (!batch.atHead) continue;
        this.markCaughtUp();
        // Events may have been appended while the handler ran: read again before waiting.
        // An empty read and the wait below happen in one synchronous step, so no signal is lost.
        if (batch.events.length > 0) continue;
        this.wait = this.source.changed();
        await this.wait.promise;
        this.wait = undefined;
      }
    } catch (e) {
      this.closed = true;
      this.failCaughtUp(e);
      throw e;
    } finally {
      // No-op once caughtUp has settled; otherwise tells its waiters the subscription stopped.
      this.failCaughtUp(new VoxError(ErrorCodes.STORE_CLOSED, 'subscription stopped before it caught up'));
      this.onStop(this);
    }
  }
}
