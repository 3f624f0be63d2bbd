/**
 * Messages between the SQLite store (main thread) and its commit thread
 * (sqlite-commit-worker.ts). A batch travels as flat parallel arrays of strings and numbers —
 * structured clone copies those much faster than one object per append and per event — and the
 * reply carries each append's outcome. VoxErrors cross the thread boundary as plain data and are
 * rebuilt with their class and code (WrongExpectedRevisionError keeps streamId/expected/actual).
 */
import { ErrorCodes, VoxError, type ErrorCode } from '../domain/errors.ts';
import { NO_STREAM, WrongExpectedRevisionError, type AppendResult, type ExpectedRevision } from './port.ts';
import type { EncodedAppend, EncodedEvent } from './sqlite-writer.ts';

/** Open a write connection, known as `conn` from then on. */
export interface OpenRequest {
  kind: 'open';
  conn: number;
  path: string;
  busyTimeoutMs: number;
}

/** One group commit on connection `conn`: append i's events are ids/types[offset_i … offset_i + counts[i]). */
export interface BatchRequest {
  kind: 'batch';
  conn: number;
  seq: number;
  streamIds: string[];
  expected: ExpectedRevision[];
  counts: number[];
  ids: string[];
  types: string[];
  /** [data, metadata] JSON of every event, in order. */
  json: string[];
}

/** Close connection `conn` once the batches sent before are done. */
export interface CloseRequest {
  kind: 'close';
  conn: number;
}

export type ToCommitWorker = OpenRequest | BatchRequest | CloseRequest;

/** A VoxError as plain data. */
export interface SerializedError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
  /** Present for a WrongExpectedRevisionError. */
  conflict?: { streamId: string; expected: ExpectedRevision; actual: number | typeof NO_STREAM };
}

/** The batch committed: per append, either a result (revision, position) or its own error. */
export interface BatchDone {
  kind: 'done';
  seq: number;
  /** nextExpectedRevision per append (-1 where `errors` has the append). */
  revisions: number[];
  positions: number[];
  /** Appends refused on their own: [index in the batch, error]. */
  errors: Array<[number, SerializedError]>;
  eventsWritten: number;
}

/** The transaction failed as a whole and was rolled back (or never began): every append in it fails with `error`. */
export interface BatchFailed {
  kind: 'failed';
  seq: number;
  error: SerializedError;
}

/** Connection `conn` could not be opened; its batches fail with the same error. */
export interface OpenFailed {
  kind: 'openFailed';
  conn: number;
  error: SerializedError;
}

/** Connection `conn` is closed. */
export interface Closed {
  kind: 'closed';
  conn: number;
}

export type FromCommitWorker = BatchDone | BatchFailed | OpenFailed | Closed;

/** Flattens a batch of encoded appends into a request. */
export function toBatchRequest(conn: number, seq: number, batch: readonly EncodedAppend[]): BatchRequest {
  const n = batch.length;
  const streamIds = new Array<string>(n);
  const expected = new Array<ExpectedRevision>(n);
  const counts = new Array<number>(n);
  const ids: string[] = [];
  const types: string[] = [];
  const json: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = batch[i]!;
    streamIds[i] = a.streamId;
    expected[i] = a.expected;
    counts[i] = a.events.length;
    for (let j = 0; j < a.events.length; j++) {
      const e = a.events[j]!;
      ids.push(e.id);
      types.push(e.type);
      json.push(a.json[2 * j]!, a.json[2 * j + 1]!);
    }
  }
  return { kind: 'batch', conn, seq, streamIds, expected, counts, ids, types, json };
}

/** Rebuilds the encoded appends of a request (on the worker). */
export function fromBatchRequest(request: BatchRequest): EncodedAppend[] {
  const { streamIds, expected, counts, ids, types, json } = request;
  const out = new Array<EncodedAppend>(streamIds.length);
  let offset = 0;
  for (let i = 0; i < streamIds.length; i++) {
    const count = counts[i]!;
    const events = new Array<EncodedEvent>(count);
    for (let j = 0; j < count; j++) events[j] = { id: ids[offset + j]!, type: types[offset + j]! };
    out[i] = { streamId: streamIds[i]!, events, json: json.slice(2 * offset, 2 * (offset + count)), expected: expected[i]! };
    offset += count;
  }
  return out;
}

/** Builds the reply to a committed batch. */
export function toBatchDone(seq: number, outcomes: ReadonlyArray<AppendResult | VoxError>, eventsWritten: number): BatchDone {
  const revisions = new Array<number>(outcomes.length);
  const positions = new Array<number>(outcomes.length);
  const errors: Array<[number, SerializedError]> = [];
  for (let i = 0; i < outcomes.length; i++) {
    const o = outcomes[i]!;
    if (o instanceof VoxError) {
      errors.push([i, serializeError(o)]);
      revisions[i] = -1;
      positions[i] = -1;
    } else {
      revisions[i] = o.nextExpectedRevision;
      positions[i] = o.position;
    }
  }
  return { kind: 'done', seq, revisions, positions, errors, eventsWritten };
}

export function serializeError(e: VoxError): SerializedError {
  const out: SerializedError = { code: e.code, message: e.message };
  if (e.details !== undefined) out.details = e.details;
  if (e instanceof WrongExpectedRevisionError) out.conflict = { streamId: e.streamId, expected: e.expected, actual: e.actual };
  return out;
}

/** Rebuilds a VoxError (of its own class) from its plain form; anything malformed is STORE_UNAVAILABLE. */
export function deserializeError(s: SerializedError | undefined): VoxError {
  if (s?.conflict !== undefined) return new WrongExpectedRevisionError(s.conflict.streamId, s.conflict.expected, s.conflict.actual);
  const known = s !== undefined && (Object.values(ErrorCodes) as string[]).includes(s.code);
  if (!known) return new VoxError(ErrorCodes.STORE_UNAVAILABLE, `the store's commit thread sent an unreadable error: ${String(s?.message)}`);
  return new VoxError(s.code, s.message, s.details);
}
