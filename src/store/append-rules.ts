/**
 * Append rules shared by every embedded adapter, so memory and sqlite decide alike:
 * input validation, expected-revision matching and the idempotent re-append check.
 *
 * Event ids are unique across the whole store. Appending ids that already stand in the store is
 * one of three things, checked in this order:
 *  1. a clean re-append: the same ids, in the same order, already stand in the target stream at
 *     the place the expected revision points to (for `any` / `stream_exists`: wherever the first
 *     id stands) → success, nothing written, the result describes the events found;
 *  2. otherwise, an expected-revision conflict → WrongExpectedRevisionError;
 *  3. otherwise → VoxError INVALID_APPEND (an id is already used elsewhere, or only part of the
 *     batch is already there). EventStoreDB would accept some of these; we refuse them.
 */
import { ErrorCodes, VoxError } from '../domain/errors.ts';
import { ANY, NO_STREAM, STREAM_EXISTS, type AppendResult, type EventData, type ExpectedRevision } from './port.ts';

/** The state of a stream that has events: its last revision and that event's global position. */
export interface StreamHead {
  revision: number;
  position: number;
}

/** What the re-append check needs to look up in an adapter (inside its write transaction). */
export interface StoredEventLookup {
  /** Where an event id stands, if anywhere. */
  locate(id: string): { streamId: string; revision: number } | undefined;
  /** Up to `count` event ids and positions of `streamId` from `fromRevision` on, in order. */
  idsFrom(streamId: string, fromRevision: number, count: number): Array<{ id: string; position: number }>;
}

function invalid(message: string, details?: Record<string, unknown>): VoxError {
  return new VoxError(ErrorCodes.INVALID_APPEND, message, details);
}

/** Throws INVALID_APPEND unless the append request is well formed. Empty event lists are valid. */
export function validateAppend(streamId: unknown, events: unknown, expected: unknown): asserts events is EventData[] {
  if (typeof streamId !== 'string' || streamId.length === 0) throw invalid('stream id must be a non-empty string');
  if (!Array.isArray(events)) throw invalid(`events for ${streamId} must be an array`, { streamId });
  if (!isExpectedRevision(expected)) {
    throw invalid(`expected revision ${String(expected)} for ${streamId} is not any, no_stream, stream_exists or a revision >= 0`, {
      streamId,
    });
  }
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as Partial<EventData> | null;
    if (e === null || typeof e !== 'object') throw invalid(`event #${i} for ${streamId} is not an object`, { streamId, index: i });
    if (typeof e.id !== 'string' || e.id.length === 0) throw invalid(`event #${i} for ${streamId} has no id`, { streamId, index: i });
    if (typeof e.type !== 'string' || e.type.length === 0) {
      throw invalid(`event ${e.id} for ${streamId} has no type`, { streamId, eventId: e.id });
    }
    if (e.data === undefined) throw invalid(`event ${e.id} for ${streamId} has no data`, { streamId, eventId: e.id });
    if (e.metadata === null || typeof e.metadata !== 'object') {
      throw invalid(`event ${e.id} for ${streamId} has no metadata object`, { streamId, eventId: e.id });
    }
  }
  if (events.length > 1) {
    const seen = new Set<string>();
    for (const e of events as EventData[]) {
      if (seen.has(e.id)) throw invalid(`event id ${e.id} appears twice in one append to ${streamId}`, { streamId, eventId: e.id });
      seen.add(e.id);
    }
  }
}

function isExpectedRevision(v: unknown): v is ExpectedRevision {
  return v === ANY || v === NO_STREAM || v === STREAM_EXISTS || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);
}

/** True when `expected` admits a stream whose last revision is `current` (undefined: no stream). */
export function revisionMatches(expected: ExpectedRevision, current: number | undefined): boolean {
  if (expected === ANY) return true;
  if (expected === NO_STREAM) return current === undefined;
  if (expected === STREAM_EXISTS) return current !== undefined;
  return current === expected;
}

/**
 * Returns the result of a clean re-append of `events` to `streamId`, or undefined when the
 * append is not one (see the module comment). `events` must be non-empty.
 */
export function findCleanReappend(
  lookup: StoredEventLookup,
  streamId: string,
  events: readonly EventData[],
  expected: ExpectedRevision,
): AppendResult | undefined {
  const first = lookup.locate(events[0]!.id);
  if (first === undefined || first.streamId !== streamId) return undefined;
  const start = first.revision;
  if (expected === NO_STREAM ? start !== 0 : typeof expected === 'number' && start !== expected + 1) return undefined;
  const stored = lookup.idsFrom(streamId, start, events.length);
  if (stored.length !== events.length) return undefined;
  for (let i = 0; i < events.length; i++) if (stored[i]!.id !== events[i]!.id) return undefined;
  return { nextExpectedRevision: start + events.length - 1, position: stored[stored.length - 1]!.position };
}

/** The INVALID_APPEND error for ids that already stand in the store outside a clean re-append. */
export function duplicateIdsError(streamId: string, ids: readonly string[]): VoxError {
  return invalid(
    `append to ${streamId} reuses event id(s) already stored elsewhere or only partly re-appends them: ${ids.join(', ')}`,
    { streamId, eventIds: ids },
  );
}

/** The result of an empty append: the stream's current state, or -1/-1 for a missing stream. */
export function emptyAppendResult(head: StreamHead | undefined): AppendResult {
  return head ? { nextExpectedRevision: head.revision, position: head.position } : { nextExpectedRevision: -1, position: -1 };
}
