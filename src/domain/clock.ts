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

type SimTimer = { at: number; seq: number; fn: () => void; cancelled: boolean };

/** A clock that only moves when told. Timers fire in time order (then creation order) during `advance`/`set`. */
export class SimulatedClock implements Clock {
  private current: number;
  /** Binary min-heap on (at, seq). */
  private heap: SimTimer[] = [];
  private seq = 0;
  private live = 0;
  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.current = startMs;
  }
  now(): number {
    return this.current;
  }
  at(atMs: number, fn: () => void): TimerHandle {
    const t: SimTimer = { at: atMs, seq: this.seq++, fn, cancelled: false };
    this.push(t);
    this.live++;
    return {
      cancel: () => {
        if (!t.cancelled) {
          t.cancelled = true;
          this.live--;
        }
      },
    };
  }
  /** Moves time forward by `ms`, firing due timers in order (each sees `now()` = its due time). */
  advance(ms: number): void {
    this.set(this.current + ms);
  }
  set(targetMs: number): void {
    for (;;) {
      const top = this.heap[0];
      if (!top || top.at > targetMs) break;
      this.pop();
      if (top.cancelled) continue;
      top.cancelled = true;
      this.live--;
      this.current = Math.max(this.current, top.at);
      top.fn();
    }
    this.current = Math.max(this.current, targetMs);
  }
  pendingTimers(): number {
    return this.live;
  }
  private less(a: SimTimer, b: SimTimer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
  private push(t: SimTimer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
