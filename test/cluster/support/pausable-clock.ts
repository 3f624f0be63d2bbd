/**
 * One node's view of a shared SimulatedClock that can be paused, like a process under SIGSTOP
 * or a long GC pause: while paused, the node's timers that come due are held, and on `resume`
 * they all fire at once, in the order they came due.
 */
import type { Clock, SimulatedClock, TimerHandle } from '../../../src/domain/clock.ts';

export class PausableClock implements Clock {
  private paused = false;
  private held: Array<{ fn: () => void; cancelled: boolean }> = [];

  constructor(private readonly inner: SimulatedClock) {}

  now(): number {
    return this.inner.now();
  }

  at(atMs: number, fn: () => void): TimerHandle {
    const entry = { fn, cancelled: false };
    const handle = this.inner.at(atMs, () => {
      if (entry.cancelled) return;
      if (this.paused) this.held.push(entry);
      else fn();
    });
    return {
      cancel: () => {
        entry.cancelled = true;
        handle.cancel();
      },
    };
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    for (const e of this.held.splice(0)) if (!e.cancelled) e.fn();
  }
}
