/**
 * One 20 ms clock for every call of the engine: a single drift-corrected timer ticks the
 * endpoints that have something to send (playback, DTMF), instead of one timer per call. Ticks
 * are numbered from the pacer's epoch on the monotonic clock, so an idle endpoint needs no work
 * to keep its RTP timestamps advancing: timestamp = base + (tick − start tick) × 160. A timer
 * that fires late catches up by up to MAX_CATCH_UP ticks (a short burst) and then skips ahead.
 */
import { performance } from 'node:perf_hooks';
import { FRAME_MS } from '../port.ts';

export interface PacedSender {
  /** Sends what is due at `tick`; returns false when it has nothing more to send (it is then removed). */
  onTick(tick: number): boolean;
}

const MAX_CATCH_UP = 3;

export class Pacer {
  private readonly epoch = performance.now();
  private readonly senders = new Set<PacedSender>();
  private lastTick: number;
  private timer: NodeJS.Timeout | undefined;
  /** Ticks skipped because the event loop was too late to catch up (a figure for tests and benches). */
  skippedTicks = 0;
  /** Largest lateness of a tick seen, in ms. */
  maxLateMs = 0;

  constructor(private readonly onError: (err: unknown) => void = () => undefined) {
    this.lastTick = this.currentTick();
  }

  currentTick(): number {
    return Math.floor((performance.now() - this.epoch) / FRAME_MS);
  }

  get activeSenders(): number {
    return this.senders.size;
  }

  add(sender: PacedSender): void {
    if (this.senders.has(sender)) return;
    if (this.senders.size === 0) this.lastTick = this.currentTick();
    this.senders.add(sender);
    if (!this.timer) this.schedule();
  }

  delete(sender: PacedSender): void {
    this.senders.delete(sender);
  }

  stop(): void {
    this.senders.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    const next = (this.lastTick + 1) * FRAME_MS + this.epoch;
    this.timer = setTimeout(() => this.fire(), Math.max(0, next - performance.now()));
  }

  private fire(): void {
    this.timer = undefined;
    const now = performance.now();
    const current = Math.floor((now - this.epoch) / FRAME_MS);
    let from = this.lastTick + 1;
    // Lateness of the first tick this firing owes (not of the current one, which is always < 20 ms).
    const late = now - (from * FRAME_MS + this.epoch);
    if (late > this.maxLateMs) this.maxLateMs = late;
    if (current - from >= MAX_CATCH_UP) {
      this.skippedTicks += current - from - MAX_CATCH_UP + 1;
      from = current - MAX_CATCH_UP + 1;
    }
    for (let tick = from; tick <= current; tick++) {
      for (const s of this.senders) {
        let more = false;
        try {
          more = s.onTick(tick);
        } catch (err) {
          this.onError(err);
        }
        if (!more) this.senders.delete(s);
      }
    }
    this.lastTick = Math.max(this.lastTick, current);
    if (this.senders.size > 0) this.schedule();
  }
}
