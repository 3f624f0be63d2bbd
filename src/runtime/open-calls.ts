/**
 * The calls in a store that have no CallEnded: what a node must recover at start, and what the
 * auditor reports when no live node holds them. One pass over the call streams (paged), keeping
 * per open call only its id, its node and its last event type.
 */
import type { EventStore } from '../store/port.ts';
import { readAllPages } from '../store/read-all-pages.ts';

export interface OpenCall {
  callId: string;
  /** The node that wrote the call's last event. */
  nodeId: string;
  /** Type of the call's last event (where it stopped). */
  lastType: string;
  /** Time of the call's first event (ISO). */
  offeredAt: string;
}

export async function findOpenCalls(store: EventStore): Promise<OpenCall[]> {
  const open = new Map<string, OpenCall>();
  for await (const page of readAllPages(store, ['call-'])) {
    for (const e of page) {
      const callId = e.streamId.slice('call-'.length);
      if (e.type === 'CallEnded') {
        open.delete(callId);
        continue;
      }
      const known = open.get(callId);
      if (known) {
        known.nodeId = e.metadata.nodeId;
        known.lastType = e.type;
      } else if (e.revision === 0) open.set(callId, { callId, nodeId: e.metadata.nodeId, lastType: e.type, offeredAt: String(e.metadata.at) });
    }
  }
  return [...open.values()];
}
