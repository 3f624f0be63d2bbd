/**
 * Effects as data: what a call's events ask of the outside world, read off them by pure
 * functions. The actor hands each one to the runtime's one `perform` path (effect-performer.ts):
 * the BYE a decided ByeSent asks for BEFORE ByeSent is recorded (so the stream agrees with the
 * wire), every other effect after its event is appended.
 */
import type { CallEvent, CallEventDataMap } from '../domain/events.ts';
import type { SipHeader } from '../domain/types.ts';
import { TRANSFER_STATUS_EVENT } from '../domain/transfer.ts';
import { MACHINE_DETECTION_EVENT } from '../domain/amd.ts';
import { SPEECH_SYNTHESIS_FAILED_EVENT, synthesisFailedNotice } from '../domain/synthesis-notice.ts';

export type Effect =
  /** Put our BYE on the wire (decided ByeSent, not yet recorded). */
  | { type: 'SendBye'; reasonHeader: string | null; headers: SipHeader[] }
  /** Put our REFER on the wire (decided ReferSent, not yet recorded). */
  | { type: 'SendRefer'; refer: CallEventDataMap['ReferSent'] }
  /** The REFER could not be sent (ReferSent with its error): record the failure as TransferProgressed sipStatus 0. */
  | { type: 'ReferNotSent'; error: string }
  /** An event for the bot in its dialect: `transferStatus` (TransferFailed), `machineDetection` (AmdVerdictReached, tell-bot), `speechSynthesisFailed` (PlaybackFinished failed). */
  | { type: 'TellBot'; name: string; value: Record<string, unknown> }
  /** Start the answering-machine detector on the call's audio, when it is armed (CallAnswered). */
  | { type: 'WatchForMachine' }
  /** Answer an inbound INVITE (CallOffered, inbound; bot first: BotConversationStarted while offered). */
  | { type: 'Answer' }
  /** Send the INVITE of an outbound call (CallOffered, outbound). */
  | { type: 'Dial'; target: string; from: string; headers: SipHeader[] }
  /** Start the call's bot conversation (CallAnswered; bot first: CallOffered), or hand it the answered call. */
  | { type: 'StartBot' }
  /** Bot first: start the bot conversation while the INVITE rings (CallOffered with answer 'after-bot'). */
  | { type: 'StartBotBeforeAnswer' }
  /** CANCEL a ringing outbound INVITE (RingTimeoutReached). */
  | { type: 'Cancel' }
  /** Pass the caller's words to the bot (SttFinalReceived with words). */
  | { type: 'PassToBot'; text: string }
  /** Pass the caller's key press to the bot (DtmfReceived). */
  | { type: 'PassDtmfToBot'; digit: string }
  /** Synthesize and play a bot message to the caller (PlaybackStarted). */
  | { type: 'Speak'; playbackId: string; text: string; activityId?: string }
  /** The call is over on this node: release it, close the bot session, answer a pending INVITE (CallEnded). */
  | { type: 'Finish'; ended: Extract<CallEvent, { type: 'CallEnded' }> };

/**
 * How an effect went. Only the BYE's matters to the actor: 'sent'; 'peer-ended' (the caller's
 * BYE got there first: nothing sent); `{ error }` (could not be sent; recorded on ByeSent).
 */
export type EffectOutcome = 'done' | 'sent' | 'peer-ended' | { error: string };

/** The BYE a decided ByeSent asks for. */
export function byeEffect(bye: CallEventDataMap['ByeSent']): Effect {
  return { type: 'SendBye', reasonHeader: bye.reasonHeader, headers: bye.headers };
}

/** The REFER a decided ReferSent asks for. */
export function referEffect(refer: CallEventDataMap['ReferSent']): Effect {
  return { type: 'SendRefer', refer };
}

/** What appended events ask of the outside world, in stream order. ByeSent and ReferSent ask nothing more: their request went before them. */
export function effectsOf(events: readonly CallEvent[]): Effect[] {
  const out: Effect[] = [];
  for (const e of events) {
    switch (e.type) {
      case 'CallOffered':
        if (e.data.direction === 'inbound') out.push(e.data.answer === 'after-bot' ? { type: 'StartBotBeforeAnswer' } : { type: 'Answer' });
        else out.push({ type: 'Dial', target: e.data.to, from: e.data.from, headers: Object.entries(e.data.headers ?? {}).map(([name, value]) => ({ name, value })) });
        break;
      case 'CallAnswered':
        out.push({ type: 'StartBot' }, { type: 'WatchForMachine' });
        break;
      case 'BotConversationStarted':
        // Bot first: the INVITE still rings and is answered now (the performer answers only an offered call).
        out.push({ type: 'Answer' });
        break;
      case 'RingTimeoutReached':
        out.push({ type: 'Cancel' });
        break;
      case 'SttFinalReceived':
        if (e.data.text.trim()) out.push({ type: 'PassToBot', text: e.data.text });
        break;
      case 'DtmfReceived':
        out.push({ type: 'PassDtmfToBot', digit: e.data.digit });
        break;
      case 'PlaybackStarted':
        out.push({ type: 'Speak', playbackId: e.data.playbackId, text: e.data.text, ...(e.data.activityId !== undefined ? { activityId: e.data.activityId } : {}) });
        break;
      case 'PlaybackFinished':
        if (e.data.outcome === 'failed') out.push({ type: 'TellBot', name: SPEECH_SYNTHESIS_FAILED_EVENT, value: synthesisFailedNotice(e.data.error, e.data.activityId) });
        break;
      case 'ReferSent':
        if (e.data.error !== undefined) out.push({ type: 'ReferNotSent', error: e.data.error });
        break;
      case 'TransferFailed':
        out.push({ type: 'TellBot', name: TRANSFER_STATUS_EVENT, value: { status: 'failed', reasonCode: e.data.reasonCode, reason: e.data.reason, sipStatus: e.data.sipStatus } });
        break;
      case 'AmdVerdictReached':
        if (e.data.action === 'tell-bot') out.push({ type: 'TellBot', name: MACHINE_DETECTION_EVENT, value: { result: e.data.result, reason: e.data.reason, beep: e.data.beep } });
        break;
      case 'CallEnded':
        out.push({ type: 'Finish', ended: e });
        break;
      default:
        break;
    }
  }
  return out;
}
