/**
 * Our events to EventStoreDB's and back. Data and metadata are stored as JSON (content type
 * application/json, so EventStoreDB's UI and projections can read them); metadata is the event's
 * EventMetadata object as is.
 *
 * EventStoreDB event ids are UUIDs (returned in lowercase canonical form). An id that is not one
 * (or not in that form) is stored under a name-based UUID derived from it (UUIDv5-style, so the
 * same id always maps to the same UUID and the server's idempotency still applies), and the
 * original id travels in the metadata under `$voxEventId`, removed again on reading.
 */
import { createHash } from 'node:crypto';
import { jsonEvent, type EventData as ClientEventData, type ResolvedEvent, type AllStreamResolvedEvent } from '@eventstore/db-client';
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import type { EventData, EventMetadata, RecordedEvent } from '../port.ts';

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Namespace of the derived ids (a fixed random UUID). */
const NAMESPACE = Buffer.from('6f1d2c9a4b7e4e0c9a53c1d0b8e7f214', 'hex');
export const ORIGINAL_ID_KEY = '$voxEventId';

/** The UUID an event id is stored under. */
export function storedId(id: string): string {
  if (CANONICAL_UUID.test(id)) return id;
  const h = createHash('sha1').update(NAMESPACE).update(id, 'utf8').digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

function invalid(message: string, details: Record<string, unknown>): VoxError {
  return new VoxError(ErrorCodes.INVALID_APPEND, message, details);
}

/** The client's event for one of ours; throws INVALID_APPEND for data or metadata JSON cannot hold. */
export function toClientEvent(streamId: string, e: EventData): ClientEventData {
  const id = storedId(e.id);
  const metadata: Record<string, unknown> = id === e.id ? e.metadata : { ...e.metadata, [ORIGINAL_ID_KEY]: e.id };
  assertJson(streamId, e.id, 'data', e.data);
  assertJson(streamId, e.id, 'metadata', metadata);
  return jsonEvent({ id, type: e.type, data: e.data as never, metadata: metadata as never });
}

function assertJson(streamId: string, eventId: string, what: string, value: unknown): void {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw invalid(`event ${eventId} for ${streamId}: ${what} is not JSON-serialisable (${(err as Error).message})`, { streamId, eventId });
  }
  if (typeof text !== 'string') throw invalid(`event ${eventId} for ${streamId}: ${what} is not JSON-serialisable`, { streamId, eventId });
}

/** uint64 positions as numbers; undefined when absent or unknown (2^64-1 means "no position"). */
export function toPosition(p: bigint | undefined): number | undefined {
  if (p === undefined || p < 0n || p > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return Number(p);
}

/** A system event (stream or type starting with `$`): EventStoreDB's own, never one of ours. */
export function isSystemEvent(streamId: string, type: string): boolean {
  return streamId.startsWith('$') || type.startsWith('$');
}

/**
 * Our RecordedEvent for a resolved event read from EventStoreDB, or undefined for one without a
 * recorded event (a link to a deleted event). `position` is the commit position; -1 when the
 * server sent none (very old servers on stream reads).
 */
export function fromResolved(resolved: ResolvedEvent | AllStreamResolvedEvent): RecordedEvent | undefined {
  const e = resolved.event;
  if (e === undefined) return undefined;
  const position = toPosition(e.position?.commit) ?? toPosition(resolved.commitPosition) ?? -1;
  let metadata = e.metadata as unknown;
  let id = e.id;
  if (isPlainObject(metadata) && typeof metadata[ORIGINAL_ID_KEY] === 'string' && storedId(metadata[ORIGINAL_ID_KEY]) === e.id) {
    const { [ORIGINAL_ID_KEY]: original, ...rest } = metadata;
    id = original as string;
    metadata = rest;
  }
  return {
    id,
    type: e.type,
    data: e.data,
    metadata: (isPlainObject(metadata) ? metadata : {}) as EventMetadata,
    streamId: e.streamId,
    revision: Number(e.revision),
    position,
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}
