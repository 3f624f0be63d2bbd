/**
 * A round trip to the event store before a node joins the cluster, so an unreachable store makes
 * the launch fail at once with a clear VoxError (STORE_UNAVAILABLE) instead of a node that
 * accepts calls it cannot record.
 */
import { ErrorCodes, VoxError, isVoxError } from '../domain/errors.ts';
import type { Clock } from '../domain/clock.ts';
import type { EventStore } from '../store/port.ts';
import { withDeadline } from './clock-wait.ts';

/**
 * Resolves with the store's head position, or rejects with VoxError STORE_UNAVAILABLE naming the
 * store kind and the cause (STORE_CORRUPT and STORE_LOCKED pass through unchanged: they say more).
 */
export async function assertStoreReachable(store: EventStore, options: { clock: Clock; timeoutMs?: number }): Promise<number> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  try {
    return await withDeadline(options.clock, Promise.resolve().then(() => store.headPosition()), options.clock.now() + timeoutMs, () =>
      new VoxError(ErrorCodes.STORE_UNAVAILABLE, `no answer within ${timeoutMs} ms`),
    );
  } catch (err) {
    if (isVoxError(err, ErrorCodes.STORE_CORRUPT) || isVoxError(err, ErrorCodes.STORE_LOCKED)) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new VoxError(ErrorCodes.STORE_UNAVAILABLE, `the event store (${store.kind}) is unreachable: ${reason}`, { store: store.kind }, { cause: err });
  }
}
