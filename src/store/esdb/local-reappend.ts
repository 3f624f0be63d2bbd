/**
 * The port's re-append rules where EventStoreDB's differ (see stream-ids.ts): the adapter decides
 * from what it knows of the stream, reading its tail when what is known cannot answer.
 */
import { duplicateIdsError, findCleanReappend, revisionMatches } from '../append-rules.ts';
import { NO_STREAM, StreamNotFoundError, WrongExpectedRevisionError, type AppendResult, type EventData, type ExpectedRevision, type RecordedEvent } from '../port.ts';
import type { StreamIdCache, StreamKnowledge } from './stream-ids.ts';

/** Reads part of a stream (the adapter's retried raw read). */
export type ReadRaw = (streamId: string, o: { fromRevision: number | undefined; maxCount: number; backwards: boolean }) => Promise<RecordedEvent[]>;

/**
 * The port's re-append rules where EventStoreDB's differ (see esdb/stream-ids.ts): returns the
 * result of a clean re-append, throws INVALID_APPEND or a conflict, or returns undefined to let
 * the server decide (which it then does as the port requires).
 */
export async function decideLocally(known: StreamIdCache, read: ReadRaw, streamId: string, events: EventData[], expected: ExpectedRevision): Promise<AppendResult | undefined> {
  // no_stream, and an exact revision below what is known to stand: the server checks the ids
  // at the revisions the expectation points to, exactly as the port does.
  if (expected === NO_STREAM || known.isTooLong(streamId)) return undefined;
  let knowledge = known.get(streamId);
  const lastKnown = knowledge === undefined ? undefined : knowledge.ids.length - 1;
  if (typeof expected === 'number' && lastKnown !== undefined && lastKnown > expected) return undefined;
  // Read the stream (or its unknown tail) only when what is known cannot answer: nothing is
  // known, or an exact revision lies beyond it. With `any` / `stream_exists` and a known
  // stream, events another writer added since are not looked for; the server's own check
  // still catches a plain retry of them.
  if (knowledge === undefined || (typeof expected === 'number' && lastKnown! < expected)) {
    const refreshed = await refresh(known, read, streamId, knowledge);
    if (refreshed === 'missing') return undefined;
    knowledge = refreshed;
  }
  if (knowledge === undefined) return undefined;
  const k: StreamKnowledge = knowledge;
  const current = k.ids.length - 1;
  if (typeof expected === 'number' && current !== expected) return undefined;
  const hits = events.filter((e) => k.revisionOf.has(e.id));
  if (hits.length === 0) return undefined;
  const lookup = {
    locate: (id: string) => {
      const revision = k.revisionOf.get(id);
      return revision === undefined ? undefined : { streamId, revision };
    },
    idsFrom: (_s: string, from: number, count: number) => k.ids.slice(from, from + count).map((id, i) => ({ id, position: k.positions[from + i]! })),
  };
  const clean = findCleanReappend(lookup, streamId, events, expected);
  if (clean !== undefined) {
    if (clean.position >= 0) return clean;
    return { nextExpectedRevision: clean.nextExpectedRevision, position: await positionAtRevision(read, streamId, clean.nextExpectedRevision) };
  }
  if (revisionMatches(expected, current)) throw duplicateIdsError(streamId, hits.map((e) => e.id));
  throw new WrongExpectedRevisionError(streamId, expected, current);
}

/** Brings what is known of a stream up to date with a read of its tail; 'missing' when it has no events. */
async function refresh(known: StreamIdCache, read: ReadRaw, streamId: string, knowledge: StreamKnowledge | undefined): Promise<StreamKnowledge | 'missing' | undefined> {
  const from = knowledge?.ids.length ?? 0;
  let tail: RecordedEvent[];
  try {
    tail = await read(streamId, { fromRevision: from, maxCount: Number.MAX_SAFE_INTEGER, backwards: false });
  } catch (e) {
    if (e instanceof StreamNotFoundError) {
      known.delete(streamId);
      return 'missing';
    }
    throw e;
  }
  known.extend(streamId, from, tail);
  return known.get(streamId);
}

/** The commit position of the event at `revision` (for results the server sent without one). */
export async function positionAtRevision(read: ReadRaw, streamId: string, revision: number): Promise<number> {
  const [e] = await read(streamId, { fromRevision: revision, maxCount: 1, backwards: false });
  return e?.position ?? -1;
}
