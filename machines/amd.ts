/**
 * The answering-machine detection part of the call machine, pure (README, The rules: Machine
 * detection). Armed at answer for outbound calls whose params name a `machineDetection` policy;
 * it folds what the analyzer observed (AmdObserved, AmdBeepDetected) and the words recognised
 * before the verdict (SttFinalReceived), and decides AmdVerdictReached once — for detect-beep, a
 * machine's verdict waits for the beep until the beep wait (stored in AmdObserved) runs out.
 */
import type { CallEvent, CallEventDataMap } from '../src/domain/events.ts';
import { amdVerdict, countWords, type AmdObservation, type AmdResult, type MachineDetectionPolicy } from '../src/domain/amd.ts';

export interface AmdState {
  policy: MachineDetectionPolicy;
  words: number;
  beep: boolean;
  observation?: AmdObservation;
  observedAt?: number;
  verdict?: AmdResult;
}

export type AmdDecision = { type: 'AmdVerdictReached'; data: CallEventDataMap['AmdVerdictReached'] };

/** The CallEnded reason for a machine disconnected under policy `disconnect`. */
export const MACHINE_DETECTED_REASON = 'Answering machine detected';

export function armAmd(policy: MachineDetectionPolicy | undefined): AmdState | undefined {
  return policy ? { policy, words: 0, beep: false } : undefined;
}

/** True while the detector still takes facts (armed, no verdict yet). */
export function amdListening(a: AmdState | undefined): boolean {
  return a !== undefined && a.verdict === undefined;
}

export function amdOnEvent(a: AmdState | undefined, event: CallEvent): AmdState | undefined {
  if (!a || a.verdict !== undefined) return a;
  switch (event.type) {
    case 'AmdObserved':
      return a.observation ? a : { ...a, observation: { ...event.data }, observedAt: event.at };
    case 'AmdBeepDetected':
      return { ...a, beep: true };
    case 'SttFinalReceived':
      return { ...a, words: a.words + countWords(event.data.text) };
    case 'AmdVerdictReached':
      return { ...a, verdict: event.data.result };
    default:
      return a;
  }
}

function beepDeadline(a: AmdState): number | undefined {
  return a.observation && a.observedAt !== undefined && a.policy === 'detect-beep' && !a.beep ? a.observedAt + a.observation.beepWaitMs : undefined;
}

/** The verdict due at `now`, if any. */
export function decideAmd(a: AmdState | undefined, now: number): AmdDecision | undefined {
  if (!a || a.verdict !== undefined || !a.observation) return undefined;
  const v = amdVerdict(a.observation, a.words, a.beep);
  const deadline = beepDeadline(a);
  if (v.result === 'machine' && deadline !== undefined && now < deadline) return undefined;
  const action = a.policy === 'disconnect' && v.result === 'machine' ? 'disconnect' : 'tell-bot';
  return { type: 'AmdVerdictReached', data: { result: v.result, reason: v.reason, words: a.words, greetingMs: a.observation.greetingMs, beep: a.beep, policy: a.policy, action } };
}

/** When the verdict must be decided even if nothing else happens (detect-beep: the beep wait's end). */
export function amdWakeUp(a: AmdState | undefined): number | undefined {
  if (!a || a.verdict !== undefined || !a.observation) return undefined;
  const v = amdVerdict(a.observation, a.words, a.beep);
  return v.result === 'machine' ? beepDeadline(a) : undefined;
}
