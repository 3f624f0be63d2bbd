/**
 * The live media endpoints of one engine, one per call (shared by the embedded, mediasoup and
 * rtpengine engines). A call that asks for a second endpoint has its first one released; an
 * endpoint that releases itself is forgotten only if it is still the call's current one.
 */
import type { Logger } from '../log/logger.ts';

export interface ReleasableEndpoint {
  readonly callId: string;
  release(): Promise<void>;
}

export class CallEndpoints<E extends ReleasableEndpoint> {
  private readonly byCall = new Map<string, E>();

  constructor(private readonly log: Logger) {}

  get size(): number {
    return this.byCall.size;
  }

  get(callId: string): E | undefined {
    return this.byCall.get(callId);
  }

  values(): IterableIterator<E> {
    return this.byCall.values();
  }

  set(endpoint: E): void {
    this.byCall.set(endpoint.callId, endpoint);
  }

  /** Called when `endpoint` released itself: drops it unless the call already has a newer one. */
  forget(endpoint: E): void {
    if (this.byCall.get(endpoint.callId) === endpoint) this.byCall.delete(endpoint.callId);
  }

  /** Releases the call's current endpoint, if any, before it gets a new one. */
  async dropExisting(callId: string): Promise<void> {
    const existing = this.byCall.get(callId);
    if (!existing) return;
    this.log.warn('a call asked for a second media endpoint; the first is released', { callId });
    await existing.release();
  }

  /** Releases every endpoint (engine stop). */
  async releaseAll(): Promise<void> {
    await Promise.all([...this.byCall.values()].map((e) => e.release()));
  }
}
