/** A promise raced against a deadline on the injected clock. */
import type { Clock } from '../../domain/clock.ts';

/**
 * Settles like `p`, or rejects with `onTimeout()` once `clock` reaches `deadline`, whichever
 * comes first. A late outcome of `p` is observed (never an unhandled rejection) and ignored.
 */
export function withDeadline<T>(clock: Clock, p: Promise<T>, deadline: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.at(deadline, () => reject(onTimeout()));
    p.then(
      (v) => {
        timer.cancel();
        resolve(v);
      },
      (e: unknown) => {
        timer.cancel();
        reject(e);
      },
    );
  });
}
