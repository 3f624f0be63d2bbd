/**
 * One call, one actor, one stream. The actor folds its stream through the pure call machine,
 * takes inputs one batch at a time (a per-actor queue), appends the inputs and the decisions they
 * lead to in ONE append with the expected revision, and only then hands the appended events to
 * the effect handler. Deadlines are read off the snapshot and armed on the injected clock; a
 * rebuilt actor (`rehydrate`) re-derives whatever was pending.
 */
import { accepts, decideAll, evolve, fold, initialSnapshot, nextWakeUp, stateOf, type CallSnapshot } from '../../machines/decide.ts';
import type { CallEvent } from '../domain/events.ts';
import { iso, type Clock, type TimerHandle } from '../domain/clock.ts';
import { callStreamId, NO_STREAM, WrongExpectedRevisionError, type EventStore } from '../store/port.ts';
import type { Logger } from '../log/logger.ts';
import type { CallInput } from './bot-activity.ts';
import { fromRecorded, isCallEvent, toEventData } from './envelope.ts';

export interface CallActorDeps {
  store: EventStore;
  clock: Clock;
  nodeId: string;
  log: Logger;
  /** Performs the effects of events just appended (never throws; failures come back as inputs). */
  onAppended(actor: CallActor, events: CallEvent[]): void;
}

export class CallActor {
  readonly callId: string;
  readonly streamId: string;
  private snap: CallSnapshot;
  private revision: number | typeof NO_STREAM;
  private queue: Promise<unknown> = Promise.resolve();
  private timer: TimerHandle | undefined;
  private wakeAt: number | undefined;
  private readonly deps: CallActorDeps;
  readonly log: Logger;

  constructor(callId: string, deps: CallActorDeps, snapshot: CallSnapshot = initialSnapshot(), revision: number | typeof NO_STREAM = NO_STREAM) {
    this.callId = callId;
    this.streamId = callStreamId(callId);
    this.deps = deps;
    this.snap = snapshot;
    this.revision = revision;
    this.log = deps.log.child({ callId });
  }

  /** Rebuilds an actor from its stream (another node's call, or after a restart). */
  static async rehydrate(callId: string, deps: CallActorDeps): Promise<CallActor> {
    const recorded = await deps.store.readStream(callStreamId(callId));
    const events = recorded.map(fromRecorded).filter(isCallEvent);
    const actor = new CallActor(callId, deps, fold(events), recorded[recorded.length - 1]!.revision);
    return actor;
  }

  get snapshot(): CallSnapshot {
    return this.snap;
  }
  get state(): string {
    return stateOf(this.snap);
  }
  get ended(): boolean {
    return this.snap.status === 'done';
  }

  /** Appends the accepted inputs and every decision they lead to. Resolves with what was appended. */
  submit(inputs: CallInput[]): Promise<CallEvent[]> {
    const run = this.queue.then(() => this.process(inputs));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Asks the decider again (a deadline passed, or after a rebuild). */
  tick(): Promise<CallEvent[]> {
    return this.submit([]);
  }

  /** Stops timers; the actor takes no more inputs from this node. */
  dispose(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private async process(inputs: CallInput[], retried = false): Promise<CallEvent[]> {
    if (this.ended) {
      if (inputs.length) this.log.debug('input after the call ended ignored', { types: inputs.map((i) => i.type) });
      return [];
    }
    const now = this.deps.clock.now();
    let s = this.snap;
    const batch: CallEvent[] = [];
    const decideNow = () => {
      const r = decideAll(s, now, this.callId);
      s = r.snapshot;
      for (const d of r.decisions) batch.push({ ...d, callId: this.callId, at: now } as CallEvent);
    };
    // Deadlines that passed before these inputs are honoured first (the timer may lag the input).
    decideNow();
    for (const input of inputs) {
      const ev = { ...input, callId: this.callId, at: now } as CallEvent;
      // The STT deadline is measured from when the request is recorded.
      if (ev.type === 'BotHangupRequested') ev.data = { ...ev.data, deadline: iso(now + ev.data.delayMs) };
      if (!accepts(s, ev)) {
        this.log.debug('input not taken in this state', { type: ev.type, state: stateOf(s) });
        continue;
      }
      s = evolve(s, ev);
      batch.push(ev);
      decideNow();
    }
    if (batch.length === 0) {
      this.arm();
      return [];
    }
    try {
      const res = await this.deps.store.append(
        this.streamId,
        batch.map((e) => toEventData(e, { nodeId: this.deps.nodeId })),
        { expectedRevision: this.revision },
      );
      this.revision = res.nextExpectedRevision;
    } catch (err) {
      if (err instanceof WrongExpectedRevisionError && !retried) {
        // Someone else wrote to this stream (a takeover, or a second actor): rebuild and decide again.
        this.log.warn('stream moved under the actor; rebuilding', { expected: String(err.expected), actual: String(err.actual) });
        const fresh = await CallActor.rehydrate(this.callId, this.deps);
        this.snap = fresh.snap;
        this.revision = fresh.revision;
        return this.process(inputs, true);
      }
      throw err;
    }
    this.snap = s;
    this.arm();
    this.deps.onAppended(this, batch);
    return batch;
  }

  /** Arms (or re-arms) the clock for the snapshot's next deadline. */
  private arm(): void {
    const at = this.ended ? undefined : nextWakeUp(this.snap);
    if (at === this.wakeAt) return;
    this.timer?.cancel();
    this.timer = undefined;
    this.wakeAt = at;
    if (at === undefined) return;
    this.timer = this.deps.clock.at(at, () => {
      this.wakeAt = undefined;
      this.timer = undefined;
      this.tick().catch((err) => this.log.error('deadline handling failed', { err }));
    });
  }
}
