/**
 * The at-least-once bookkeeping shared by the deliverers that follow the store (the end-of-call
 * notices to bots, the call-status webhooks): which deliveries are in flight at which global
 * positions, which ended without a recorded outcome, the checkpoint that is safe to write (never
 * past a delivery whose outcome is not recorded), retries with backoff on the injected clock,
 * and sleeps that wake when the deliverer closes.
 */
import type { Clock } from '../domain/clock.ts';
import { ErrorCodes, type VoxError } from '../domain/errors.ts';
import type { Logger } from '../log/logger.ts';
import type { EventStore, RecordedEvent, Subscription } from '../store/port.ts';
import { ProjectionRunner } from '../../projections/runner.ts';

export interface DeliveryTrackerOptions {
  store: EventStore;
  /** The checkpoint's name (`checkpoint-<name>`). */
  name: string;
  clock: Clock;
  log: Logger;
  nodeId: string;
  backoffMs: number;
  maxBackoffMs: number;
}

export class DeliveryTracker {
  private readonly inFlight = new Map<string, { position: number; done: Promise<void> }>();
  /** Deliveries that ended without a recorded outcome (closed, or a bug): they pin the checkpoint. */
  private readonly unsettled = new Map<string, number>();
  private lastSeen = -1;
  private lastWritten = -1;
  private isClosed = false;
  private checkpointTimer: { cancel(): void } | undefined;
  private readonly sleepers = new Set<() => void>();
  private readonly o: DeliveryTrackerOptions;

  constructor(options: DeliveryTrackerOptions) {
    this.o = options;
  }

  /** Reads the stored checkpoint and starts counting from it. */
  async resume(): Promise<number> {
    const from = await ProjectionRunner.readCheckpoint(this.o.store, this.o.name);
    this.lastSeen = from;
    this.lastWritten = from;
    return from;
  }

  /** Records `position` as the checkpoint now (e.g. where a deliverer enabled for the first time begins). */
  async writeCheckpoint(position: number): Promise<void> {
    await ProjectionRunner.writeCheckpoint(this.o.store, this.o.name, position, { nodeId: this.o.nodeId, at: this.o.clock.now() });
    this.lastWritten = Math.max(this.lastWritten, position);
    this.lastSeen = Math.max(this.lastSeen, position);
  }

  /** Writes the safe position every `ms` while it moves, so a crash replays little. */
  checkpointEvery(ms: number): void {
    const tick = () => {
      this.checkpointTimer = undefined;
      if (this.isClosed) return;
      const p = this.safePosition();
      const next = () => {
        if (!this.isClosed) this.checkpointTimer = this.o.clock.at(this.o.clock.now() + ms, tick);
      };
      if (p <= this.lastWritten) return next();
      this.writeCheckpoint(p).catch((err) => this.o.log.warn(`${this.o.name} checkpoint not written`, { err })).finally(next);
    };
    this.checkpointTimer = this.o.clock.at(this.o.clock.now() + ms, tick);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** The subscription reached `position`. */
  seen(position: number): void {
    this.lastSeen = position;
  }

  /**
   * Tracks a delivery for the event at `position`. `done` resolves true once its outcome is
   * recorded, false when the deliverer closed first; false or a rejection pins the checkpoint.
   */
  track(key: string, position: number, done: Promise<boolean>, onError: (err: unknown) => void): void {
    const settled = done.then(
      (ok) => {
        if (!ok) this.unsettled.set(key, position);
      },
      (err) => {
        this.unsettled.set(key, position);
        onError(err);
      },
    );
    this.inFlight.set(key, { position, done: settled });
    void settled.finally(() => this.inFlight.delete(key));
  }

  /** Deliveries started and not finished. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Deliveries that could not be recorded (delivered again after a restart). */
  get unrecorded(): number {
    return this.unsettled.size;
  }

  /** Resolves when every delivery started so far has finished. */
  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight.values()].map((x) => x.done));
  }

  /** The position up to which every delivery is finished and recorded. */
  safePosition(): number {
    let p = this.lastSeen;
    for (const x of this.inFlight.values()) p = Math.min(p, x.position - 1);
    for (const position of this.unsettled.values()) p = Math.min(p, position - 1);
    return p;
  }

  /** Runs `op` until it succeeds, with backoff; undefined once closed. */
  async persist<T>(log: Logger, what: string, op: () => Promise<T>): Promise<T | undefined> {
    for (let n = 1; !this.isClosed; n++) {
      try {
        return await op();
      } catch (err) {
        log.error(`${this.o.name} could not ${what}; retrying`, { try: n, err });
        await this.sleep(this.backoff(n));
      }
    }
    return undefined;
  }

  backoff(n: number): number {
    return Math.min(this.o.backoffMs * 2 ** (n - 1), this.o.maxBackoffMs);
  }

  /** Waits on the injected clock; wakes early on close. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.sleepers.delete(wake);
        timer.cancel();
        resolve();
      };
      this.sleepers.add(wake);
      const timer = this.o.clock.at(this.o.clock.now() + ms, wake);
    });
  }

  /** Stops: wakes sleepers, closes the subscription, writes the safe checkpoint. */
  async close(sub: Subscription | undefined): Promise<void> {
    this.isClosed = true;
    this.checkpointTimer?.cancel();
    for (const wake of [...this.sleepers]) wake();
    await sub?.close();
    const position = this.safePosition();
    if (position >= 0) {
      await ProjectionRunner.writeCheckpoint(this.o.store, this.o.name, position, { nodeId: this.o.nodeId, at: this.o.clock.now() }).catch((err) =>
        this.o.log.warn(`${this.o.name} checkpoint not written`, { err }),
      );
    }
  }
}

/** A stream's events, or none when it does not exist yet (delivery streams start with the first attempt). */
export async function readStreamOrEmpty(store: EventStore, streamId: string): Promise<RecordedEvent[]> {
  return store.readStream(streamId).catch((err: VoxError) => {
    if (err.code === ErrorCodes.STREAM_NOT_FOUND) return [];
    throw err;
  });
}
