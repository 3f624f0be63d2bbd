/** Waiting on the injected clock (never setTimeout): sleeps and time limits that tests can drive. */
import type { Clock, TimerHandle } from '../domain/clock.ts';

/** A sleep on `clock` that `cancel` ends early (resolving). */
export function sleep(clock: Clock, ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: TimerHandle | undefined;
  let wake!: () => void;
  const promise = new Promise<void>((resolve) => {
    wake = resolve;
    timer = clock.at(clock.now() + Math.max(0, ms), resolve);
  });
  return {
    promise,
    cancel() {
      timer?.cancel();
      wake();
    },
  };
}

/**
 * Settles with `work`, or rejects with `onTimeout()` once the clock reaches `deadline`, whichever
 * comes first. `work` keeps running after a timeout; its late failure is swallowed here.
 */
export function withDeadline<T>(clock: Clock, work: Promise<T>, deadline: number, onTimeout: () => Error): Promise<T> {
  work.catch(() => undefined);
  let timer: TimerHandle | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = clock.at(deadline, () => reject(onTimeout()));
  });
  return Promise.race([work, timeout]).finally(() => timer?.cancel());
}
