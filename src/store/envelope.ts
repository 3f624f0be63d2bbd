/**
 * Turning domain events into stored events and back. Validation happens here, at the boundary:
 * nothing invalid is appended, and a stored event of an unknown type or newer schema is a clear
 * error (VOX_EVENT_UNKNOWN_TYPE / VOX_EVENT_SCHEMA_TOO_NEW) rather than a crash later.
 */
import { DELIVERY_EVENTS, SCHEMA_VERSION, validateEvent, type CallEvent, type DomainEvent, type EventType } from '../domain/events.ts';
import type { EventData, RecordedEvent } from './port.ts';
import { iso } from '../domain/clock.ts';
import { newEventId } from './event-id.ts';

export interface EnvelopeContext {
  nodeId: string;
  causationId?: string;
  correlationId?: string;
}

export function toEventData(event: DomainEvent, ctx: EnvelopeContext, id: string = newEventId()): EventData {
  validateEvent(event.type, event.data);
  return {
    id,
    type: event.type,
    data: event.data,
    metadata: {
      callId: event.callId,
      at: iso(event.at),
      nodeId: ctx.nodeId,
      schemaVersion: SCHEMA_VERSION,
      ...(ctx.causationId ? { causationId: ctx.causationId } : {}),
      correlationId: ctx.correlationId ?? event.callId,
    },
  };
}

/** A stored event as a typed domain event (validated). */
export function fromRecorded(e: RecordedEvent): DomainEvent {
  validateEvent(e.type, e.data, Number(e.metadata?.schemaVersion ?? SCHEMA_VERSION));
  const at = Date.parse(String(e.metadata?.at));
  return { type: e.type as EventType, data: e.data, callId: String(e.metadata?.callId ?? e.streamId.replace(/^[a-z]+-/, '')), at } as DomainEvent;
}

export function isCallEvent(e: DomainEvent): e is CallEvent {
  return !DELIVERY_EVENTS.has(e.type);
}
