/**
 * How `@eventstore/db-client` errors become voxledger errors.
 *
 * - WrongExpectedVersionError → WrongExpectedRevisionError, its actual revision a number or
 *   'no_stream'. The client reports a missing stream as the string "no_stream" (Emmett's
 *   `BigInt("no_stream")` turned exactly that into a SyntaxError); it is mapped, never parsed.
 *   With `any`/`stream_exists` on an existing stream a "wrong expected version" can only mean the
 *   server found part of the batch already written ("corrupted idempotency"): INVALID_APPEND.
 * - StreamNotFoundError / StreamDeletedError on reads → StreamNotFoundError.
 * - NotLeader, Unavailable, DeadlineExceeded, Timeout (commit timeout) and a server-side
 *   Cancelled are transient: the operation is retried (appends with the same event ids, which
 *   the server deduplicates), and after the last attempt they become STORE_UNAVAILABLE.
 */
import {
  AccessDeniedError,
  CancelledError,
  DeadlineExceededError,
  MaxAppendSizeExceededError,
  NotLeaderError,
  StreamDeletedError,
  StreamNotFoundError as ClientStreamNotFoundError,
  TimeoutError,
  UnavailableError,
  WrongExpectedVersionError,
  convertToCommandError,
} from '@eventstore/db-client';
import { ErrorCodes, VoxError, isVoxError } from '../../domain/errors.ts';
import { ANY, NO_STREAM, STREAM_EXISTS, StreamNotFoundError, WrongExpectedRevisionError, type ExpectedRevision } from '../port.ts';

/**
 * The client's error class for a raw gRPC error. The client converts most errors itself, but
 * not all (a failed ServerFeatures call before an append surfaces as a raw ServiceError).
 */
export function normalise(e: unknown): unknown {
  if (e === null || typeof e !== 'object') return e;
  try {
    return convertToCommandError(e as Error);
  } catch {
    return e;
  }
}

/** Errors worth another attempt: the node was not the leader, not reachable, or too slow. */
export function isTransient(error: unknown): boolean {
  const e = normalise(error);
  return (
    e instanceof NotLeaderError ||
    e instanceof UnavailableError ||
    e instanceof DeadlineExceededError ||
    e instanceof TimeoutError ||
    e instanceof CancelledError
  );
}

/** A short, credential-free description of a client error, for messages and logs. */
export function describeClientError(error: unknown): string {
  const e = normalise(error);
  if (e instanceof NotLeaderError) return `not the leader (leader is ${e.leader.address}:${e.leader.port})`;
  const name = (e as { constructor?: { name?: string } } | null)?.constructor?.name ?? 'Error';
  const message = e instanceof Error ? e.message : String(e);
  return `${name}: ${message}`.slice(0, 500);
}

/** The actual revision a WrongExpectedVersionError reports, without ever parsing "no_stream". */
export function actualRevision(e: WrongExpectedVersionError): number | typeof NO_STREAM {
  const actual: unknown = e.actualVersion;
  if (typeof actual === 'bigint') return Number(actual);
  if (typeof actual === 'number' && Number.isSafeInteger(actual) && actual >= 0) return actual;
  return NO_STREAM;
}

/** Maps an append failure (after retries) to the port's errors. */
export function mapAppendError(error: unknown, streamId: string, expected: ExpectedRevision, hosts: string): Error {
  const e = normalise(error);
  if (isVoxError(e)) return e;
  if (e instanceof WrongExpectedVersionError) {
    const actual = actualRevision(e);
    if ((expected === ANY || expected === STREAM_EXISTS) && actual !== NO_STREAM) {
      return new VoxError(
        ErrorCodes.INVALID_APPEND,
        `append to ${streamId} was refused by EventStoreDB: part of the batch is already in the stream (not a clean re-append)`,
        { streamId },
        { cause: e },
      );
    }
    return new WrongExpectedRevisionError(streamId, expected, actual);
  }
  if (e instanceof MaxAppendSizeExceededError) {
    return new VoxError(ErrorCodes.INVALID_APPEND, `append to ${streamId} exceeds EventStoreDB's maximum append size of ${e.maxAppendSize} bytes`, {
      streamId,
      maxAppendSize: e.maxAppendSize,
    });
  }
  if (e instanceof StreamDeletedError) {
    return new VoxError(ErrorCodes.INVALID_APPEND, `stream ${streamId} was deleted in EventStoreDB and cannot be appended to`, { streamId }, { cause: e });
  }
  return unavailable(`append to ${streamId}`, e, hosts);
}

/** Maps a read failure (after retries) to the port's errors. */
export function mapReadError(error: unknown, what: string, hosts: string, streamId?: string): Error {
  const e = normalise(error);
  if (isVoxError(e)) return e;
  if (streamId !== undefined && (e instanceof ClientStreamNotFoundError || e instanceof StreamDeletedError)) return new StreamNotFoundError(streamId);
  return unavailable(what, e, hosts);
}

/** STORE_UNAVAILABLE naming the hosts (never credentials) and the client's reason. */
export function unavailable(what: string, error: unknown, hosts: string): VoxError {
  const e = normalise(error);
  const reason = e instanceof AccessDeniedError ? 'access denied (check the user and password in the connection string)' : describeClientError(e);
  return new VoxError(ErrorCodes.STORE_UNAVAILABLE, `EventStoreDB at ${hosts}: ${what} failed: ${reason}`, { hosts, reason }, { cause: e });
}
