/**
 * Every SIP timer goes through here: one injected clock, one place to cancel them all on
 * `stop()`, and a guard so a throwing callback is logged instead of escaping into the loop.
 */
import type { Clock, TimerHandle } from '../../domain/clock.ts';
import type { SipLogFn } from './options.ts';

export class TimerRegistry {
  private readonly live = new Set<TimerHandle>();
  /** How many timers of each label have fired since start (retransmission timers count resends). */
  readonly fired = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly log: SipLogFn,
  ) {}

  now(): number {
    return this.clock.now();
  }

  /** Runs `fn` after `ms`; the handle cancels it. */
  after(ms: number, fn: () => void, label = 'timer'): TimerHandle {
    let inner: TimerHandle | undefined;
    const handle: TimerHandle = {
      cancel: () => {
        this.live.delete(handle);
        inner?.cancel();
      },
    };
    this.live.add(handle);
    inner = this.clock.at(this.clock.now() + ms, () => {
      if (!this.live.delete(handle)) return;
      this.fired.set(label, (this.fired.get(label) ?? 0) + 1);
      try {
        fn();
      } catch (err) {
        this.log('error', 'SIP timer callback threw', { timer: label, err: String(err) });
      }
    });
    return handle;
  }

  cancelAll(): void {
    for (const h of [...this.live]) h.cancel();
  }

  get size(): number {
    return this.live.size;
  }
}
