/**
 * One call as the API shows it, read from its streams: the machine's state (its events folded),
 * the CDR so far, the bot operation result, the end-of-call notices to the bot and the
 * call-status webhook deliveries.
 */
import { fold, stateOf } from '../../machines/decide.ts';
import { applyToCdr, type Cdr } from '../../projections/cdr.ts';
import { VoxError, ErrorCodes, isVoxError } from '../domain/errors.ts';
import { notifyStreamId, type CallEvent, type DomainEvent } from '../domain/events.ts';
import { iso } from '../domain/clock.ts';
import { callStreamId, type EventStore, type RecordedEvent } from '../store/port.ts';
import { fromRecorded, isCallEvent } from '../store/envelope.ts';
import { webhookStreamId } from '../webhooks/webhook-events.ts';

async function readOptional(store: EventStore, streamId: string): Promise<RecordedEvent[]> {
  try {
    return await store.readStream(streamId);
  } catch (err) {
    if (isVoxError(err, ErrorCodes.STREAM_NOT_FOUND)) return [];
    throw err;
  }
}

export async function readCallEvents(store: EventStore, callId: string): Promise<{ recorded: RecordedEvent[]; events: CallEvent[] }> {
  const recorded = await store.readStream(callStreamId(callId)).catch((err) => {
    if (isVoxError(err, ErrorCodes.STREAM_NOT_FOUND)) throw new VoxError(ErrorCodes.CALL_NOT_FOUND, `no call ${callId}`, { callId });
    throw err;
  });
  return { recorded, events: recorded.map(fromRecorded).filter(isCallEvent) };
}

export function eventJson(r: RecordedEvent): Record<string, unknown> {
  return { id: r.id, type: r.type, revision: r.revision, position: r.position, at: r.metadata.at, nodeId: r.metadata.nodeId, data: r.data };
}

export async function callDetail(store: EventStore, callId: string, live: boolean) {
  const { events } = await readCallEvents(store, callId);
  const notices = (await readOptional(store, notifyStreamId(callId))).map(fromRecorded);
  const webhooks = await readOptional(store, webhookStreamId(callId));
  const cdr: Cdr = { callId, rejectedBotInputs: 0 };
  for (const e of [...events, ...notices] as DomainEvent[]) applyToCdr(cdr, e);
  const snapshot = fold(events);
  return {
    callId,
    state: stateOf(snapshot),
    live,
    cdr,
    botOperationResult: cdr.botOperationResult ?? null,
    botOperationData: cdr.botOperationData ?? null,
    botNotifications: notices.map((n) => ({ at: iso(n.at), ...(n.data as object) })),
    webhookDeliveries: webhooks.map((w) => ({ at: w.metadata.at, type: w.type, ...(w.data as object) })),
  };
}
