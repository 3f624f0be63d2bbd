/**
 * The auditor's check (README, The rules: Time and audit), written from the outside: take only the INPUT events of a
 * recorded history, feed them to the pure machine at their recorded times, ask it for decisions
 * after each input and at every wake-up (`nextWakeUp`) that falls between inputs, and return the
 * history the machine would have written. A runtime that did what the rules say wrote exactly that.
 */
import { isDeepStrictEqual } from 'node:util';
import { accepts, decide, decideAll, evolve, initialSnapshot, nextWakeUp, stateOf, type CallSnapshot } from '../../../machines/decide.ts';
import { INPUT_EVENTS, type CallEvent, type DomainEvent } from '../../../src/domain/events.ts';
import { cdrProjection, type Cdr } from '../../../projections/cdr.ts';

export class ReplayDivergence extends Error {}

export interface Replayed {
  events: CallEvent[];
  snapshot: CallSnapshot;
}

/**
 * Replays the inputs of `history` through the machine. Wake-ups due at or before an input's time
 * are taken before that input (a timer that is due fires before anything that happens later or at
 * the same instant). `until` is how far the history's clock got (default: its last event), so a
 * deadline still in the future at the end is not taken.
 */
export function replayInputs(history: DomainEvent[], until?: number): Replayed {
  const inputs = history.filter((e): e is CallEvent => INPUT_EVENTS.has(e.type as never));
  const callId = history[0]?.callId ?? '';
  const end = until ?? history[history.length - 1]?.at ?? 0;
  let s = initialSnapshot();
  const out: CallEvent[] = [];
  const decideAt = (now: number) => {
    const r = decideAll(s, now, callId);
    s = r.snapshot;
    for (const d of r.decisions) out.push({ ...d, callId, at: now } as CallEvent);
    return r.decisions.length;
  };
  const wakeUpsUntil = (t: number) => {
    for (let guard = 0; guard < 8; guard++) {
      const w = nextWakeUp(s);
      if (w === undefined || w > t) return;
      if (decideAt(w) === 0) return;
    }
    throw new ReplayDivergence(`wake-ups do not settle in state ${stateOf(s)}`);
  };
  for (const e of inputs) {
    wakeUpsUntil(e.at);
    if (!accepts(s, e)) throw new ReplayDivergence(`recorded input ${e.type}@${e.at} is not taken in state ${stateOf(s)} (after ${out.length} replayed events)`);
    s = evolve(s, e);
    out.push(e);
    decideAt(e.at);
  }
  wakeUpsUntil(end);
  return { events: out, snapshot: s };
}

/**
 * The auditor's check for histories written on a real clock or over a slow store, where a
 * decision may be recorded after it fell due: walking the stream in order, each recorded decision
 * must be exactly what the machine decides at its recorded time, and no input may have been taken
 * while a decision was already due at that input's time (the decision must come first).
 */
export function auditHistory(history: DomainEvent[]): void {
  let s = initialSnapshot();
  history.forEach((e, i) => {
    const due = decide(s, e.at);
    if (INPUT_EVENTS.has(e.type as never)) {
      // The one exception (as in src/audit/verify.ts): the caller's BYE supersedes a BYE of ours
      // that was due but had not reached the wire yet (e.g. behind a slow append).
      const superseded = e.type === 'ByeReceived' && due?.type === 'ByeSent';
      if (due && !superseded) throw new ReplayDivergence(`event ${i}: input ${e.type}@${e.at} was taken while ${due.type} ${JSON.stringify(due.data)} was already due (state ${stateOf(s)})`);
      if (!accepts(s, e as CallEvent)) throw new ReplayDivergence(`event ${i}: input ${e.type}@${e.at} is not taken in state ${stateOf(s)}`);
    } else if (!due || due.type !== e.type || !isDeepStrictEqual(due.data, e.data)) {
      throw new ReplayDivergence(`event ${i}: recorded ${e.type}@${e.at} ${JSON.stringify(e.data)}, but the machine decides ${JSON.stringify(due)} then (state ${stateOf(s)})`);
    }
    s = evolve(s, e as CallEvent);
  });
}

/** What a history says, for comparing two of them: type, time and data of each event, in order. */
export function facts(history: DomainEvent[], normalise: (json: string) => string = (j) => j): string[] {
  return history.map((e) => `${e.type}@${e.at} ${normalise(JSON.stringify(e.data))}`);
}

/** The call's CDR, folded by the CDR projection (projections/cdr.ts) over the call's stream. */
export function cdrOf(history: DomainEvent[]): Cdr | undefined {
  let state = cdrProjection.init();
  history.forEach((e, revision) => {
    const next = cdrProjection.apply(state, e, { streamId: `call-${e.callId}`, revision, position: revision, eventId: String(revision) });
    if (next !== undefined) state = next;
  });
  return cdrProjection.output!(state)[0];
}
