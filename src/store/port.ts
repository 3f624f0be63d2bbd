/**
 * The event store port. Semantics follow EventStoreDB so that every adapter (memory, sqlite,
 * esdb) means the same thing; one conformance suite (test/store/conformance.ts) runs against each.
 *
 * - A stream's revisions start at 0 and have no gaps.
 * - `position` orders all events of all streams (strictly increasing, not necessarily dense).
 * - An append is acknowledged only once it is durable.
 * - Appending events whose ids already stand at the end of the stream, in the same order, at the
 *   same expected revision, is idempotent: it succeeds and writes nothing.
 */
import { VoxError, ErrorCodes } from '../domain/errors.ts';

/** Expected revision sentinels (EventStoreDB's), or an exact revision (0-based). */
export const ANY = 'any' as const;
export const NO_STREAM = 'no_stream' as const;
export const STREAM_EXISTS = 'stream_exists' as const;
export type ExpectedRevision = typeof ANY | typeof NO_STREAM | typeof STREAM_EXISTS | number;

export interface EventMetadata {
  callId: string;
  /** ISO-8601 time the fact happened (from the injected clock). */
  at: string;
  nodeId: string;
  causationId?: string;
  correlationId?: string;
  schemaVersion: number;
  [key: string]: unknown;
}

/** An event about to be appended. `id` is a UUID chosen by the writer (idempotency key). */
export interface EventData<T extends string = string, D = unknown> {
  id: string;
  type: T;
  data: D;
  metadata: EventMetadata;
}

export interface RecordedEvent<T extends string = string, D = unknown> extends EventData<T, D> {
  streamId: string;
  revision: number;
  position: number;
}

export interface AppendResult {
  /** Revision of the last event now in the stream (the next expected revision). */
  nextExpectedRevision: number;
  /** Global position of the last event written (or found, on an idempotent re-append). */
  position: number;
}

export interface ReadStreamOptions {
  fromRevision?: number;
  maxCount?: number;
  direction?: 'forwards' | 'backwards';
}

export interface ReadAllOptions {
  /** Exclusive: events strictly after this position. Omit to start from the beginning. */
  after?: number;
  maxCount?: number;
  /** Only streams whose id starts with one of these prefixes. */
  streamPrefixes?: string[];
}

export interface SubscribeOptions extends Omit<ReadAllOptions, 'maxCount'> {}

/** A catch-up subscription: replays history after `after`, then delivers live events in order. */
export interface Subscription {
  /** Resolves when the subscription has caught up with history at least once. */
  readonly caughtUp: Promise<void>;
  /**
   * Settles when the subscription stops: resolves after `close()`, rejects with the error that
   * stopped it (the handler threw, or the store failed). Observe it: nothing else reports that error.
   */
  readonly done: Promise<void>;
  /**
   * Stops delivery; resolves once the handler call in flight (if any) has finished. A handler
   * that closes its own subscription must not await this (it would wait for itself).
   */
  close(): Promise<void>;
}

export type SubscriptionHandler = (event: RecordedEvent) => void | Promise<void>;

export interface EventStore {
  readonly kind: string;
  append(streamId: string, events: EventData[], options?: { expectedRevision?: ExpectedRevision }): Promise<AppendResult>;
  /** Throws StreamNotFoundError when the stream has no events. */
  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /** Last global position written, or -1 when the store is empty. */
  headPosition(): Promise<number>;
  subscribeToAll(options: SubscribeOptions, handler: SubscriptionHandler): Subscription;
  close(): Promise<void>;
}

export class WrongExpectedRevisionError extends VoxError {
  readonly streamId: string;
  readonly expected: ExpectedRevision;
  /** The stream's actual last revision, or 'no_stream'. */
  readonly actual: number | typeof NO_STREAM;
  constructor(streamId: string, expected: ExpectedRevision, actual: number | typeof NO_STREAM) {
    super(
      ErrorCodes.WRONG_EXPECTED_REVISION,
      `append to ${streamId} expected revision ${String(expected)} but the stream is at ${String(actual)}`,
      { streamId, expected: String(expected), actual: String(actual) },
    );
    this.name = 'WrongExpectedRevisionError';
    this.streamId = streamId;
    this.expected = expected;
    this.actual = actual;
  }
}

export class StreamNotFoundError extends VoxError {
  readonly streamId: string;
  constructor(streamId: string) {
    super(ErrorCodes.STREAM_NOT_FOUND, `stream ${streamId} does not exist`, { streamId });
    this.name = 'StreamNotFoundError';
    this.streamId = streamId;
  }
}

export function callStreamId(callId: string): string {
  return `call-${callId}`;
}
