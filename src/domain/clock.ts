/**
 * Time is injected everywhere. Machines never read the wall clock; the runtime asks a Clock,
 * and tests drive a SimulatedClock.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  now(): number;
  /** Runs `fn` once the clock reaches `atMs` (immediately, on a later turn, if already past). */
  at(atMs: number, fn: () => void): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  at(atMs, fn) {
    const t = setTimeout(fn, Math.max(0, atMs - Date.now()));
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
};

/** A clock that only moves when told. Timers fire in time order during `advance`/`set`. */
export class SimulatedClock implements Clock {
  private current: number;
  private timers: Array<{ at: number; seq: number; fn: () => void; cancelled: boolean }> = [];
  private seq = 0;
  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.current = startMs;
  }
  now(): number {
    return this.current;
  }
  at(atMs: number, fn: () => void): TimerHandle {
    const t = { at: atMs, seq: this.seq++, fn, cancelled: false };
    this.timers.push(t);
    return { cancel: () => void (t.cancelled = true) };
  }
  /** Moves time forward by `ms`, firing due timers in order (each sees `now()` = its due time). */
  advance(ms: number): void {
    this.set(this.current + ms);
  }
  set(targetMs: number): void {
    for (;;) {
      const due = this.timers.filter((t) => !t.cancelled && t.at <= targetMs).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      due.cancelled = true;
      this.current = Math.max(this.current, due.at);
      due.fn();
    }
    this.timers = this.timers.filter((t) => !t.cancelled);
    this.current = Math.max(this.current, targetMs);
  }
  pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
