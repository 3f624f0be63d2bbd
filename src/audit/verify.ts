/**
 * The auditor's check: re-run a call's recorded inputs through the pure machine at their recorded
 * times and compare every decision it makes with the decision recorded. Recorded decisions are
 * applied as recorded (so one difference does not cascade); timer-driven decisions are decided
 * at the time they were recorded, after checking their deadline had really passed, and so is a
 * decision recorded later than it fell due (a node that stopped in between, then a restart).
 */
import { isDeepStrictEqual } from 'node:util';
import { accepts, decideAll, evolve, initialSnapshot, nextWakeUp, stateOf, type Decision } from '../../machines/decide.ts';
import { DECISION_EVENTS, type CallEvent } from '../domain/events.ts';
import { iso } from '../domain/clock.ts';

export interface Difference {
  /** Index of the recorded event in the stream where the difference shows (-1: at the end). */
  index: number;
  kind: 'missing' | 'unexpected' | 'different' | 'input-refused' | 'too-early';
  message: string;
  recorded?: { type: string; data: unknown };
  decided?: { type: string; data: unknown };
}

/** A ByeSent's or ReferSent's `error` is what the wire did, not what the machine decided. */
function withoutOutcome(e: CallEvent): unknown {
  if ((e.type !== 'ByeSent' && e.type !== 'ReferSent') || e.data.error === undefined) return e.data;
  const { error: _error, ...decided } = e.data;
  return decided;
}

/**
 * For each event: whether the caller's BYE had (possibly) reached the runtime when it decided
 * there. The runtime notes the caller's BYE as it arrives, before its ByeReceived is queued, and
 * from then on decides no BYE of its own; inputs recorded before that ByeReceived with no decision
 * between may have been taken after it arrived (same batch, or a batch whose BYE found the dialog
 * already ended). So a BYE of ours due there is superseded, not missing.
 */
function peerEndedAt(events: CallEvent[]): boolean[] {
  const out = new Array<boolean>(events.length).fill(false);
  let ahead = false;
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (DECISION_EVENTS.has(e.type)) ahead = false;
    else if (e.type === 'ByeReceived') ahead = true;
    out[i] = ahead;
  }
  return out;
}

/**
 * Re-decides a call through the runtime's own decision loop (`decideAll`, machines/decide.ts),
 * given the same knowledge the runtime had (`peerEnded`), and compares with what is recorded.
 */
export function verifyCall(events: CallEvent[]): { differences: Difference[]; decisions: number } {
  const differences: Difference[] = [];
  const peerEnded = peerEndedAt(events);
  let s = initialSnapshot();
  let pending: Decision[] = [];
  let pendingAt = -Infinity;
  let decisions = 0;
  events.forEach((e, index) => {
    if (DECISION_EVENTS.has(e.type)) {
      decisions++;
      if (pending.length === 0) {
        const wake = nextWakeUp(s);
        if (wake !== undefined && e.at < wake) {
          differences.push({ index, kind: 'too-early', message: `${e.type} recorded at ${iso(e.at)}, before its deadline ${iso(wake)}`, recorded: { type: e.type, data: e.data } });
        }
        // A timer-driven decision: the runtime decided it when its timer ran, at the recorded time.
        // (A decision recorded means the runtime had not noted the caller's BYE: it decided freely.)
        pending = decideAll(s, e.at, e.callId).decisions;
        pendingAt = e.at;
      } else if (e.at !== pendingAt) {
        // Due since pendingAt but decided later (the node stopped in between and a restart or a
        // takeover decided it): what the machine decides at the recorded time.
        pending = decideAll(s, e.at, e.callId).decisions;
        pendingAt = e.at;
      }
      const expected = pending.shift();
      if (!expected) {
        differences.push({ index, kind: 'unexpected', message: `${e.type} is recorded but the machine decided nothing here (state ${stateOf(s)})`, recorded: { type: e.type, data: e.data } });
      } else if (expected.type !== e.type || !isDeepStrictEqual(expected.data, withoutOutcome(e))) {
        differences.push({ index, kind: 'different', message: `recorded ${e.type} differs from the machine's ${expected.type}`, recorded: { type: e.type, data: e.data }, decided: expected });
      }
      s = evolve(s, e);
      return;
    }
    const opts = { peerEnded: peerEnded[index] };
    for (const p of pending) differences.push({ index, kind: 'missing', message: `the machine decided ${p.type} before ${e.type}, but it is not recorded`, decided: p });
    pending = [];
    const due = decideAll(s, e.at, e.callId, opts).decisions;
    for (const p of due) differences.push({ index, kind: 'missing', message: `${p.type} was due before ${e.type} at ${iso(e.at)} but is not recorded`, decided: p });
    if (!accepts(s, e)) {
      differences.push({ index, kind: 'input-refused', message: `${e.type} is recorded but the machine refuses it in state ${stateOf(s)}`, recorded: { type: e.type, data: e.data } });
      return;
    }
    s = evolve(s, e);
    pending = decideAll(s, e.at, e.callId, opts).decisions;
    pendingAt = e.at;
  });
  for (const p of pending) differences.push({ index: -1, kind: 'missing', message: `the machine decided ${p.type} after the last event, but it is not recorded`, decided: p });
  return { differences, decisions };
}
