/**
 * The pure decider around the call statechart:
 * - `evolve` folds one stored event into the snapshot (XState's pure `transition`);
 * - `accepts` says whether the current state takes an input at all (inputs it does not take are
 *   never appended: that is how CallEnded stays last and duplicates stay out);
 * - `decide` reads what must happen now: the decisions (RingTimeoutReached, ByeSent, CallEnded)
 *   are level-triggered, so a rebuilt actor re-derives whatever its predecessor left pending;
 * - `nextWakeUp` is the time `decide` must be asked again (ring timeout, STT deadline, goodbye playback deadline).
 * Nothing here reads a clock: `now` is always passed in.
 */
import { createActor, initialTransition, type AnyActorScope, type SnapshotFrom } from 'xstate';
import { callMachine, type CallContext } from './call-machine.ts';
import type { CallEvent, CallEventDataMap } from '../src/domain/events.ts';
import { buildReasonHeader } from '../src/domain/hangup-headers.ts';
import { BOT_SIDE_REASON } from '../src/domain/reason-codes.ts';
import { genericErrorReason } from '../src/domain/error-reasons.ts';
import { TRANSFER_BYE_CAUSE } from '../src/domain/transfer.ts';
import { decideTransfer, transferWakeUp, transferredReason, type TransferDecision } from './transfer.ts';
import { amdWakeUp, decideAmd, MACHINE_DETECTED_REASON, type AmdDecision } from './amd.ts';

export type CallSnapshot = SnapshotFrom<typeof callMachine>;
export type CallState = 'idle' | 'offered' | 'dialing' | 'connecting' | 'active' | 'awaitingSttFinal' | 'awaitingPlayback' | 'byeDue' | 'ending' | 'ended';

export type Decision =
  | { type: 'RingTimeoutReached'; data: CallEventDataMap['RingTimeoutReached'] }
  | { type: 'ByeSent'; data: CallEventDataMap['ByeSent'] }
  | { type: 'CallEnded'; data: CallEventDataMap['CallEnded'] }
  | TransferDecision
  | AmdDecision;

/** Q.850 cause 41 (temporary failure) for BYEs the runtime sends because something failed. */
export const ERROR_Q850_CAUSE = 41;

/**
 * XState's pure `transition()` builds a throw-away actor and actor system on every call, which
 * dominated the cost of a call's life. The call machine has no children, invocations or custom
 * side effects (only `assign`), so one inert scope, made once, serves every transition.
 * This leans on XState internals (the scope's shape, hence the cast); test/property/
 * xstate-internals-pin.test.ts pins them and fails loudly on an XState upgrade that breaks them.
 */
export const INERT_SCOPE: AnyActorScope = (() => {
  const self = createActor(callMachine);
  return { self, defer: () => {}, id: '', logger: () => {}, sessionId: '', stopChild: () => {}, system: self.system, emit: () => {}, actionExecutor: () => {} } as unknown as AnyActorScope;
})();

/** Snapshots are immutable: the initial one is made once. */
const INITIAL: CallSnapshot = initialTransition(callMachine)[0];

export function initialSnapshot(): CallSnapshot {
  return INITIAL;
}

export function stateOf(snapshot: CallSnapshot): CallState {
  return snapshot.value as CallState;
}

export function accepts(snapshot: CallSnapshot, event: CallEvent): boolean {
  return snapshot.status === 'active' && snapshot.can(event);
}

export function evolve(snapshot: CallSnapshot, event: CallEvent): CallSnapshot {
  // XState still runs root-level handlers on a finished snapshot; an ended call takes nothing.
  if (snapshot.status !== 'active') return snapshot;
  return callMachine.transition(snapshot, event, INERT_SCOPE);
}

/** Rebuilds a snapshot from a stream's events, in order. */
export function fold(events: Iterable<CallEvent>): CallSnapshot {
  let s = initialSnapshot();
  for (const e of events) s = evolve(s, e);
  return s;
}

function byeFor(ctx: CallContext, trigger: CallEventDataMap['ByeSent']['trigger'], now: number): Decision {
  if (trigger === 'machine-detected') {
    return { type: 'ByeSent', data: { reasonHeader: buildReasonHeader(MACHINE_DETECTED_REASON), headers: [], trigger, sttWaitMs: 0 } };
  }
  if (trigger === 'transferred') {
    return { type: 'ByeSent', data: { reasonHeader: buildReasonHeader(transferredReason(ctx.transfer), TRANSFER_BYE_CAUSE), headers: [], trigger, sttWaitMs: 0 } };
  }
  if (trigger === 'error') {
    // Generic text by the recorded error code: the details stay in the events and the log.
    return { type: 'ByeSent', data: { reasonHeader: buildReasonHeader(genericErrorReason(ctx.errorCode), ERROR_Q850_CAUSE), headers: [], trigger, sttWaitMs: 0 } };
  }
  const h = ctx.hangup;
  return {
    type: 'ByeSent',
    data: {
      reasonHeader: buildReasonHeader(h?.reason),
      headers: h?.headers ?? [],
      trigger,
      sttWaitMs: h && trigger !== 'immediate' ? Math.max(0, Math.min(now, h.deadline) - h.requestedAt) : 0,
    },
  };
}

/** The one decision due at `now`, if any. Call again after applying it (see `decideAll`). */
export function decide(snapshot: CallSnapshot, now: number): Decision | undefined {
  const ctx = snapshot.context;
  switch (stateOf(snapshot)) {
    case 'dialing':
      if (!ctx.cancelRequested && ctx.ringDeadline !== undefined && now >= ctx.ringDeadline) {
        return { type: 'RingTimeoutReached', data: { ringTimeoutMs: ctx.ringTimeoutMs ?? 0 } };
      }
      return undefined;
    case 'awaitingSttFinal':
      return ctx.hangup && now >= ctx.hangup.deadline ? byeFor(ctx, 'deadline', now) : undefined;
    case 'awaitingPlayback':
      return ctx.hangup?.playbackDeadline !== undefined && now >= ctx.hangup.playbackDeadline ? byeFor(ctx, 'deadline', now) : undefined;
    case 'connecting':
      return decideAmd(ctx.amd, now);
    case 'active':
      return decideTransfer(ctx.transfer, now) ?? decideAmd(ctx.amd, now);
    case 'byeDue':
      return byeFor(ctx, ctx.byeTrigger ?? 'immediate', now);
    case 'ending': {
      const ending = ctx.ending ?? { reasonCode: 'bot-disconnected' as const, reason: ctx.hangup?.reason ?? BOT_SIDE_REASON, terminatedBy: 'bot' as const };
      const durationMs = ctx.answeredAt === undefined ? 0 : Math.max(0, now - ctx.answeredAt);
      return { type: 'CallEnded', data: { ...ending, durationMs } };
    }
    default:
      return undefined;
  }
}

/** What the decision loop must know beyond the snapshot and the time. */
export interface DecideOptions {
  /**
   * The caller's BYE has reached us (its ByeReceived may still be on its way into the stream):
   * no BYE of ours is decided any more, and the loop stops where one would be.
   */
  peerEnded?: boolean;
}

/**
 * More decisions than this in one round is a bug in the machine (a decision that does not move
 * it on), never something input can cause: the machine makes at most three in a row
 * (RingTimeoutReached, or ByeSent then CallEnded).
 */
export const MAX_DECISIONS_PER_ROUND = 8;

/**
 * THE decision loop, shared by the runtime's CallActor and the auditor's verify: every decision
 * due at `now`, each applied (stamped `now`) before the next is derived (ByeSent then CallEnded).
 * Returns the decisions and the snapshot after them.
 */
export function decideAll(snapshot: CallSnapshot, now: number, callId: string, opts: DecideOptions = {}): { decisions: Decision[]; snapshot: CallSnapshot } {
  const decisions: Decision[] = [];
  let s = snapshot;
  for (let d = decide(s, now); d; d = decide(s, now)) {
    // Nothing of ours goes on a dialog the peer ended: neither a BYE nor a REFER.
    if ((d.type === 'ByeSent' || d.type === 'ReferSent') && opts.peerEnded) break;
    decisions.push(d);
    s = evolve(s, { ...d, callId, at: now } as CallEvent);
    if (decisions.length > MAX_DECISIONS_PER_ROUND) throw new Error(`decider loop in state ${stateOf(s)}`);
  }
  return { decisions, snapshot: s };
}

/** When `decide` must be asked again even if nothing else happens. */
export function nextWakeUp(snapshot: CallSnapshot): number | undefined {
  const ctx = snapshot.context;
  switch (stateOf(snapshot)) {
    case 'dialing':
      return ctx.cancelRequested ? undefined : ctx.ringDeadline;
    case 'awaitingSttFinal':
      return ctx.hangup?.deadline;
    case 'awaitingPlayback':
      return ctx.hangup?.playbackDeadline;
    case 'connecting':
      return amdWakeUp(ctx.amd);
    case 'active': {
      const t = transferWakeUp(ctx.transfer);
      const a = amdWakeUp(ctx.amd);
      return t === undefined ? a : a === undefined ? t : Math.min(t, a);
    }
    default:
      return undefined;
  }
}
