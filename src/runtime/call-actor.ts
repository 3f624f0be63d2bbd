/**
 * One call, one actor, one stream. The actor folds its stream through the pure call machine.
 * Its mailbox takes everything that arrived as one batch: each input at its arrival time, in
 * arrival order, with the deadlines due in between; the inputs and the decisions they lead to go
 * in ONE append with the expected revision, and only then are the effects the appended events
 * ask for (effects.ts) handed to `perform` — except our BYE and REFER, which `perform` puts on
 * the wire before ByeSent / ReferSent is recorded (and after what led to them is: a batch holding
 * one is appended in two parts, the part before it first). Deadlines are read off the snapshot and armed on the injected
 * clock; a rebuilt actor (`rehydrate`) re-derives whatever was pending.
 */
import { accepts, decideAll, evolve, fold, initialSnapshot, nextWakeUp, stateOf, type CallSnapshot } from '../../machines/decide.ts';
import { DECISION_EVENTS, type CallEvent } from '../domain/events.ts';
import { iso, type Clock, type TimerHandle } from '../domain/clock.ts';
import { callStreamId, NO_STREAM, WrongExpectedRevisionError, type EventStore } from '../store/port.ts';
import type { Logger } from '../log/logger.ts';
import type { CallInput } from './bot-activity.ts';
import { fromRecorded, isCallEvent, toEventData } from '../store/envelope.ts';
import { byeEffect, effectsOf, referEffect, type Effect, type EffectOutcome } from './effects.ts';

export interface CallActorDeps {
  store: EventStore;
  clock: Clock;
  nodeId: string;
  log: Logger;
  /**
   * Performs one effect; never rejects (failures come back as inputs, or as the outcome). The
   * decided BYE (SendBye) and REFER (SendRefer) are performed BEFORE ByeSent / ReferSent are recorded, so the stream agrees with the
   * wire: 'peer-ended' means the caller's BYE got there first (nothing sent; ByeSent is not
   * recorded and the caller's BYE, queued behind, ends the call); `{ error }` means it could not
   * be sent (recorded on ByeSent, the call still ends). The rest are performed after their
   * events are appended, in stream order (their synchronous part at once).
   */
  perform(actor: CallActor, effect: Effect): Promise<EffectOutcome>;
}

/** One submission waiting in the actor's mailbox. */
interface Mail {
  makeInputs: (snapshot: CallSnapshot, at: number) => CallInput[];
  /** When it arrived (clock time). */
  at: number;
  resolve(events: CallEvent[]): void;
  reject(err: unknown): void;
}

export class CallActor {
  readonly callId: string;
  readonly streamId: string;
  private snap: CallSnapshot;
  private revision: number | typeof NO_STREAM;
  private readonly mailbox: Mail[] = [];
  private pumping = false;
  /** Time of the last event in the stream: stamps never go backwards. */
  private lastAt = -Infinity;
  private timer: TimerHandle | undefined;
  private wakeAt: number | undefined;
  /** The peer's BYE reached us (its ByeReceived may still be queued): we send none. */
  private peerEnded = false;
  private readonly deps: CallActorDeps;
  private childLog: Logger | undefined;

  constructor(callId: string, deps: CallActorDeps, snapshot: CallSnapshot = initialSnapshot(), revision: number | typeof NO_STREAM = NO_STREAM) {
    this.callId = callId;
    this.streamId = callStreamId(callId);
    this.deps = deps;
    this.snap = snapshot;
    this.revision = revision;
  }

  /** The call's logger (every line carries the call id); made on first use, most calls never log. */
  get log(): Logger {
    return (this.childLog ??= this.deps.log.child({ callId: this.callId }));
  }

  /** Rebuilds an actor from its stream (another node's call, or after a restart). */
  static async rehydrate(callId: string, deps: CallActorDeps): Promise<CallActor> {
    return (await CallActor.rehydrateWithHistory(callId, deps)).actor;
  }

  /** Like `rehydrate`, also giving the events it was rebuilt from (one read serves both). */
  static async rehydrateWithHistory(callId: string, deps: CallActorDeps): Promise<{ actor: CallActor; events: CallEvent[] }> {
    const recorded = await deps.store.readStream(callStreamId(callId));
    const events = recorded.map(fromRecorded).filter(isCallEvent);
    const actor = new CallActor(callId, deps, fold(events), recorded[recorded.length - 1]!.revision);
    actor.lastAt = events.length ? events[events.length - 1]!.at : -Infinity;
    return { actor, events };
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

  /** Appends the accepted inputs and every decision they lead to. Resolves with what was appended for them. */
  submit(inputs: CallInput[]): Promise<CallEvent[]> {
    return this.submitWith(() => inputs);
  }

  /**
   * Like `submit`, but the inputs are worked out in the actor's turn, from the snapshot as it is
   * then (e.g. a bot activity read against the session params every earlier input has set).
   * The inputs are stamped with the time they arrived, not the time they are processed.
   */
  submitWith(makeInputs: (snapshot: CallSnapshot, at: number) => CallInput[]): Promise<CallEvent[]> {
    return new Promise((resolve, reject) => {
      this.mailbox.push({ makeInputs, at: this.deps.clock.now(), resolve, reject });
      void this.pump();
    });
  }

  /** Asks the decider again (a deadline passed, or after a rebuild). */
  tick(): Promise<CallEvent[]> {
    return this.submit([]);
  }

  /**
   * Called synchronously when the peer's BYE arrives, before its input is queued: from then on
   * no BYE of ours is decided, and the queued ByeReceived ends the call as client-disconnected.
   */
  notePeerEnded(): void {
    this.peerEnded = true;
  }

  /** Stops timers; the actor takes no more inputs from this node. */
  dispose(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** Takes everything that arrived so far as one batch, one batch at a time. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.mailbox.length) {
        const items = this.mailbox.splice(0);
        try {
          const perItem = await this.process(items);
          items.forEach((it, i) => it.resolve(perItem[i] ?? []));
        } catch (err) {
          for (const it of items) it.reject(err);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Folds a batch of mail in arrival order, each at its arrival time, with the decisions due at
   * each of those times in between (so an input that arrived before a deadline is taken before the
   * deadline's decision, however late it is processed), then the decisions due now. Our BYE goes
   * on the wire before ByeSent is recorded; then everything is appended at once.
   */
  private async process(items: Mail[], retried = false): Promise<CallEvent[][]> {
    const perItem: CallEvent[][] = items.map(() => []);
    if (this.ended) {
      this.log.debug('input after the call ended ignored');
      return perItem;
    }
    const now = this.deps.clock.now();
    let s = this.snap;
    let last = this.lastAt;
    const batch: CallEvent[] = [];
    // Decisions that go on the wire before they are recorded (BYE, REFER), in order.
    const wireFirst: number[] = [];
    // The one decision loop the auditor re-runs (machines/decide.ts), with what the actor knows.
    const decideAt = (t: number, into?: CallEvent[]) => {
      const r = decideAll(s, t, this.callId, { peerEnded: this.peerEnded });
      for (const d of r.decisions) {
        const ev = { ...d, callId: this.callId, at: t } as CallEvent;
        if (ev.type === 'ByeSent' || ev.type === 'ReferSent') wireFirst.push(batch.length);
        batch.push(ev);
        into?.push(ev);
      }
      s = r.snapshot;
    };
    items.forEach((item, i) => {
      // Time never runs backwards in a stream, whatever the queue did.
      const t = Math.max(item.at, last);
      decideAt(t);
      for (const input of item.makeInputs(s, t)) {
        const ev = { ...input, callId: this.callId, at: t } as CallEvent;
        // The STT deadline is measured from when the request is recorded.
        if (ev.type === 'BotHangupRequested') ev.data = { ...ev.data, deadline: iso(t + ev.data.delayMs) };
        else if (ev.type === 'TransferRequested') ev.data = { ...ev.data, deadline: iso(t + ev.data.timeoutMs) };
        if (!accepts(s, ev)) {
          this.log.debug('input not taken in this state', { type: ev.type, state: stateOf(s) });
          continue;
        }
        s = evolve(s, ev);
        batch.push(ev);
        perItem[i]!.push(ev);
        decideAt(t, perItem[i]);
      }
      last = t;
    });
    decideAt(Math.max(now, last));
    // What led to the first BYE/REFER (the bot's hangup request, say) is recorded before it goes
    // on the wire: a node killed right after sending finds the request at restart and sends the
    // same BYE again (the SIP adapter makes it a byte-identical retransmission), never a
    // different one. `recorded` marks how much of the batch is already in the store.
    let recorded = 0;
    let recordedSnap = this.snap;
    if (wireFirst.length && wireFirst[0]! > 0) {
      recorded = wireFirst[0]!;
      const prefix = batch.slice(0, recorded);
      const res = await this.appendOrRebuild(prefix, retried);
      if (res === 'rebuilt') return this.process(items, true);
      for (const ev of prefix) recordedSnap = evolve(recordedSnap, ev);
      this.snap = recordedSnap;
      this.lastAt = prefix[prefix.length - 1]!.at;
    }
    for (const index of wireFirst) {
      const ev = batch[index] as Extract<CallEvent, { type: 'ByeSent' | 'ReferSent' }>;
      const outcome = await this.deps.perform(this, ev.type === 'ByeSent' ? byeEffect(ev.data) : referEffect(ev.data));
      if (outcome === 'peer-ended') {
        // The caller's BYE hit the wire first: decide again, without a BYE or REFER of ours.
        this.peerEnded = true;
        if (recorded === 0) return this.process(items, retried);
        return this.redecideAfter(items, perItem, batch, recorded);
      } else if (typeof outcome === 'object') {
        ev.data = { ...ev.data, error: outcome.error.slice(0, 500) } as typeof ev.data;
      }
    }
    const rest = batch.slice(recorded);
    if (rest.length === 0) {
      this.arm();
      return perItem;
    }
    // Once part of the batch is recorded (and a BYE is on the wire), a conflict is not retried.
    if ((await this.appendOrRebuild(rest, retried || recorded > 0)) === 'rebuilt') return this.process(items, true);
    this.snap = s;
    this.lastAt = batch[batch.length - 1]!.at;
    this.arm();
    for (const effect of effectsOf(batch)) void this.deps.perform(this, effect);
    return perItem;
  }

  /**
   * Appends `events` with the expected revision. On a conflict (someone else wrote the stream: a
   * takeover, or a second actor) the actor is rebuilt from the store and 'rebuilt' returned, so the
   * caller decides again — unless `noRetry`, then the conflict is thrown.
   */
  private async appendOrRebuild(events: CallEvent[], noRetry: boolean): Promise<'appended' | 'rebuilt'> {
    try {
      const res = await this.deps.store.append(
        this.streamId,
        events.map((e) => toEventData(e, { nodeId: this.deps.nodeId })),
        { expectedRevision: this.revision },
      );
      this.revision = res.nextExpectedRevision;
      return 'appended';
    } catch (err) {
      if (!(err instanceof WrongExpectedRevisionError) || noRetry) throw err;
      this.log.warn('stream moved under the actor; rebuilding', { expected: String(err.expected), actual: String(err.actual) });
      const fresh = await CallActor.rehydrate(this.callId, this.deps);
      this.snap = fresh.snap;
      this.revision = fresh.revision;
      this.lastAt = fresh.lastAt;
      return 'rebuilt';
    }
  }

  /**
   * The caller's BYE beat ours after the first `recorded` events of the batch were stored: the
   * inputs that came after them are taken again, in order and at their own times, from the
   * recorded snapshot (peerEnded now set), and the decisions worked out afresh.
   */
  private async redecideAfter(items: Mail[], perItem: CallEvent[][], batch: CallEvent[], recorded: number): Promise<CallEvent[][]> {
    const owner = new Map<CallEvent, number>();
    perItem.forEach((evs, i) => evs.forEach((e) => owner.set(e, i)));
    const stored = new Set(batch.slice(0, recorded));
    for (const evs of perItem) evs.splice(0, evs.length, ...evs.filter((e) => stored.has(e)));
    const again: Mail[] = [];
    const pending: Array<{ item: number; inputs: CallInput[] }> = [];
    for (const ev of batch.slice(recorded)) {
      const i = owner.get(ev);
      if (i === undefined || DECISION_EVENTS.has(ev.type)) continue;
      const { callId: _c, at: _a, ...input } = ev;
      const last = pending[pending.length - 1];
      if (last?.item === i) last.inputs.push(input as CallInput);
      else pending.push({ item: i, inputs: [input as CallInput] });
    }
    for (const p of pending) again.push({ ...items[p.item]!, makeInputs: () => p.inputs });
    if (again.length === 0) {
      this.arm();
      return perItem;
    }
    const redone = await this.process(again, true);
    pending.forEach((p, k) => perItem[p.item]!.push(...(redone[k] ?? [])));
    return perItem;
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
