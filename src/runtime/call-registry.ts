/**
 * The actors of the calls live on this node, and who wants to hear when one starts (cluster
 * ownership claims) or ends (tests, metrics).
 */
import type { CallEvent } from '../domain/events.ts';
import type { CallActor } from './call-actor.ts';

export type EndedListener = (callId: string, ended: CallEvent) => void;

export class CallRegistry {
  private readonly actors = new Map<string, CallActor>();
  private readonly startedListeners = new Set<(callId: string) => void>();
  private readonly endedListeners = new Set<EndedListener>();

  /** A call's actor is live on this node from now on. */
  add(actor: CallActor): void {
    this.actors.set(actor.callId, actor);
    for (const l of this.startedListeners) l(actor.callId);
  }

  get(callId: string): CallActor | undefined {
    return this.actors.get(callId);
  }

  ids(): string[] {
    return [...this.actors.keys()];
  }

  all(): IterableIterator<CallActor> {
    return this.actors.values();
  }

  /** Stops the call's actor and forgets it (the call ended, or another node owns it now). */
  remove(callId: string): void {
    this.actors.get(callId)?.dispose();
    this.actors.delete(callId);
  }

  onStarted(listener: (callId: string) => void): () => void {
    this.startedListeners.add(listener);
    return () => this.startedListeners.delete(listener);
  }

  onEnded(listener: EndedListener): () => void {
    this.endedListeners.add(listener);
    return () => this.endedListeners.delete(listener);
  }

  notifyEnded(callId: string, ended: CallEvent): void {
    for (const l of this.endedListeners) l(callId, ended);
  }
}
