/**
 * The store the runtime writes calls through on a cluster node. Before an append to a call
 * stream it asks the node's guard, which
 * - waits for the node's claim on the call to be written (a call is owned before its first event),
 * - refuses (VoxError CLUSTER_LEASE_LOST) once the node learnt another node owns the call, so a
 *   node that lost a call stops writing for it,
 * - re-checks the node's own lease when it ran out (a process that was paused finds out what it
 *   lost before it writes again).
 * Everything else passes straight through. The call stream's expected revision remains the last
 * line of defence: two writers can never both extend the same revision.
 */
import type { AppendResult, EventData, EventStore, ExpectedRevision, ReadAllOptions, ReadStreamOptions, RecordedEvent, SubscribeOptions, Subscription, SubscriptionHandler } from '../store/port.ts';

const CALL_PREFIX = 'call-';

export class FencedCallStore implements EventStore {
  readonly kind: string;
  private readonly inner: EventStore;
  private readonly guard: (callId: string) => Promise<void>;

  constructor(inner: EventStore, guard: (callId: string) => Promise<void>) {
    this.inner = inner;
    this.kind = inner.kind;
    this.guard = guard;
  }

  async append(streamId: string, events: EventData[], options?: { expectedRevision?: ExpectedRevision }): Promise<AppendResult> {
    if (streamId.startsWith(CALL_PREFIX)) await this.guard(streamId.slice(CALL_PREFIX.length));
    return this.inner.append(streamId, events, options);
  }
  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> {
    return this.inner.readStream(streamId, options);
  }
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    return this.inner.readAll(options);
  }
  headPosition(): Promise<number> {
    return this.inner.headPosition();
  }
  subscribeToAll(options: SubscribeOptions, handler: SubscriptionHandler): Subscription {
    return this.inner.subscribeToAll(options, handler);
  }
  /** Closes the store underneath (the node's shared store). */
  close(): Promise<void> {
    return this.inner.close();
  }
}
