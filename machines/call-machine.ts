/**
 * The call statechart (XState v5), pure. Its events are the domain events of the call's stream,
 * each with the time it happened (`at`, ms). It never reads a clock, sets a timer or does I/O:
 * what must happen next is read off the snapshot by `decide` (machines/decide.ts), which the
 * runtime calls with the time from its injected clock.
 *
 *   idle ─CallOffered─▶ offered (inbound) ──CallAnswered──▶ connecting ─BotConversationStarted─▶ active
 *   offered (inbound, bot first: CallOffered.answer 'after-bot') ─BotConversationStarted─▶ offered (bot ready)
 *                    ─CallAnswered─▶ active;  ─BotStartFailed─▶ ending (the INVITE refused with its sipStatus, no BYE)
 *                     ▶ dialing (outbound) ─CallAnswered──▶ connecting
 *   active ─BotHangupRequested─▶ awaitingSttFinal (delay > 0 and STT in progress)
 *                             | awaitingPlayback (a prompt is playing and the request has a playbackDeadline) | byeDue
 *   awaitingSttFinal ─SttFinalReceived / SttFailed─▶ awaitingPlayback (a prompt still plays) | byeDue;  deadline passed ─ByeSent─▶ ending
 *   awaitingPlayback ─PlaybackFinished (the last one)─▶ awaitingSttFinal (caller speaking, STT deadline ahead) | byeDue;
 *                    playbackDeadline passed ─ByeSent─▶ ending
 *   byeDue ─ByeSent─▶ ending ─CallEnded─▶ ended (final)
 *   ByeReceived (the peer's BYE) from any answered state ─▶ ending (client-disconnected)
 *   OperatorHangupRequested: before answer ─▶ ending; answered (before any BYE) ─▶ byeDue (operator-disconnected)
 *   active ─TransferRequested / ReferSent / TransferProgressed / TransferFailed─▶ active (machines/transfer.ts);
 *          the final 2xx NOTIFY ─▶ byeDue (trigger transferred) ─ByeSent─▶ ending (transferred)
 *
 * Deadlines (ring timeout, STT wait) are absolute times in the context, taken from the events,
 * so a node that rebuilds the actor from its stream honours them (XState's `after` timers are
 * not persisted: statelyai/xstate#5331).
 */
import { assign, not, setup } from 'xstate';
import type { CallEvent } from '../src/domain/events.ts';
import type { Direction, ReasonCode, SessionParams, SipHeader, TerminatedBy } from '../src/domain/types.ts';
import { mergeParams } from '../src/domain/bot-params.ts';
import { CLIENT_SIDE_REASON } from '../src/domain/reason-codes.ts';
import { amdListening, amdOnEvent, armAmd, MACHINE_DETECTED_REASON, type AmdState } from './amd.ts';
import { isTransferAwaiting, isTransferSuccess, transferFromRequest, transferOnProgress, transferRefusal, transferredReason, type TransferState } from './transfer.ts';

export interface PendingHangup {
  reason?: string;
  headers: SipHeader[];
  delayMs: number;
  requestedAt: number;
  deadline: number;
  /** Latest time a playing prompt may hold the BYE (absent: never held for playback). */
  playbackDeadline?: number;
}

export interface CallEnding {
  reasonCode: ReasonCode;
  reason: string;
  terminatedBy: TerminatedBy;
  sipStatus?: number;
}

export interface CallContext {
  callId: string;
  direction: Direction;
  botId: string;
  from: string;
  to: string;
  offeredAt: number;
  answeredAt?: number;
  ringDeadline?: number;
  ringTimeoutMs?: number;
  cancelRequested: boolean;
  sttInProgress: boolean;
  /** Prompts queued or playing to the caller (PlaybackStarted without its PlaybackFinished), oldest first. */
  playbacks: readonly string[];
  /** How many DTMF digits the caller pressed (DtmfReceived). */
  dtmfDigits: number;
  /** The last media negotiation (MediaNegotiated): codec and whether the caller holds the call. */
  media?: { codec: string; onHold: boolean };
  /** How many bot inputs were rejected (BotInputRejected). */
  rejectedInputs: number;
  /**
   * Ids of the bot activities applied (an input carrying the id was recorded), most recent last,
   * at most APPLIED_ACTIVITY_IDS: a repeat of one is dropped, on any node that folds the stream.
   */
  activityIds: readonly string[];
  /** Session-level params, last write wins in stream order (config first, then the bot). */
  params: SessionParams;
  hangup?: PendingHangup;
  byeTrigger?: 'immediate' | 'stt-final' | 'stt-failed' | 'playback-finished' | 'deadline' | 'error' | 'transferred' | 'machine-detected';
  /** The bot's transfer, the last one requested (machines/transfer.ts). */
  transfer?: TransferState;
  /** Answering-machine detection, armed at answer on outbound calls with a policy (machines/amd.ts). */
  amd?: AmdState;
  /** Set when the BYE went out (ms). */
  byeSentAt?: number;
  errorReason?: string;
  /** The recorded code of the error that ends the call (CallErrored, BotStartFailed): it picks the error BYE's generic wire text. */
  errorCode?: string;
  /** Inbound, bot first: the bot's conversation was started before the call was answered. */
  botReady?: boolean;
  ending?: CallEnding;
  endedAt?: number;
}

/** How many applied activity ids a call remembers (bots repeat recent activities, not old ones). */
export const APPLIED_ACTIVITY_IDS = 256;

/** Whether the bot activity with this (recorded) id was applied to the call already. */
export function appliedActivity(context: CallContext, activityId: string): boolean {
  return context.activityIds.includes(activityId);
}

function activityIdOf(event: CallEvent): string | undefined {
  return event.type === 'SessionParamsUpdated' || event.type === 'BotInputRejected' || event.type === 'BotHangupRequested' || event.type === 'PlaybackStarted' || event.type === 'TransferRequested'
    ? event.data.activityId
    : undefined;
}

function offerFacts(event: CallEvent) {
  const d = event.type === 'CallOffered' ? event.data : undefined;
  return { callId: event.callId, offeredAt: event.at, botId: d?.botId ?? '', from: d?.from ?? '', to: d?.to ?? '' };
}

export const callMachine = setup({
  types: {
    context: {} as CallContext,
    events: {} as CallEvent,
  },
  guards: {
    inbound: ({ event }) => event.type === 'CallOffered' && event.data.direction === 'inbound',
    mustWaitForStt: ({ context, event }) => event.type === 'BotHangupRequested' && event.data.delayMs > 0 && context.sttInProgress,
    /** A prompt plays and the hangup allows a goodbye to finish (its playbackDeadline is ahead). */
    mustWaitForPlayback: ({ context, event }) =>
      event.type === 'BotHangupRequested' && context.playbacks.length > 0 && event.data.playbackDeadline !== undefined && Date.parse(event.data.playbackDeadline) > event.at,
    /** After the STT wait: a prompt still plays and the pending hangup's playbackDeadline is ahead. */
    playbackPending: ({ context, event }) => context.playbacks.length > 0 && context.hangup?.playbackDeadline !== undefined && context.hangup.playbackDeadline > event.at,
    /** This PlaybackFinished ends the last prompt playing. */
    lastPlaybackEnds: ({ context, event }) => event.type === 'PlaybackFinished' && context.playbacks.every((id) => id === event.data.playbackId),
    /** After the playback wait: the caller is speaking and the STT deadline is ahead. */
    sttPending: ({ context, event }) => context.sttInProgress && context.hangup !== undefined && context.hangup.delayMs > 0 && context.hangup.deadline > event.at,
    amdListening: ({ context }) => amdListening(context.amd),
    amdObserving: ({ context }) => amdListening(context.amd) && context.amd?.observation === undefined,
    amdDisconnects: ({ context, event }) => amdListening(context.amd) && event.type === 'AmdVerdictReached' && event.data.action === 'disconnect',
    transferAllowed: ({ context }) => transferRefusal('active', context.transfer) === undefined,
    referDue: ({ context }) => context.transfer?.phase === 'requested',
    transferAwaiting: ({ context }) => isTransferAwaiting(context.transfer),
    transferSucceeds: ({ context, event }) => isTransferSuccess(context.transfer, event),
    transferFailing: ({ context }) => context.transfer?.phase === 'failing' || isTransferAwaiting(context.transfer),
  },
  actions: {
    trackSttStart: assign({ sttInProgress: () => true }),
    countRejection: assign({ rejectedInputs: ({ context }) => context.rejectedInputs + 1 }),
    noteMedia: assign({ media: ({ context, event }) => (event.type === 'MediaNegotiated' ? { codec: event.data.codec, onHold: event.data.onHold } : context.media) }),
    noteActivity: assign({
      activityIds: ({ context, event }) => {
        const id = activityIdOf(event);
        if (id === undefined || context.activityIds.includes(id)) return context.activityIds;
        const ids = [...context.activityIds, id];
        return ids.length > APPLIED_ACTIVITY_IDS ? ids.slice(ids.length - APPLIED_ACTIVITY_IDS) : ids;
      },
    }),
    trackSttFinal: assign({ sttInProgress: () => false }),
    trackPlaybackStart: assign({
      playbacks: ({ context, event }) =>
        event.type === 'PlaybackStarted' && !context.playbacks.includes(event.data.playbackId) ? [...context.playbacks, event.data.playbackId] : context.playbacks,
    }),
    trackPlaybackEnd: assign({
      playbacks: ({ context, event }) => (event.type === 'PlaybackFinished' ? context.playbacks.filter((id) => id !== event.data.playbackId) : context.playbacks),
    }),
    updateParams: assign({
      params: ({ context, event }) => (event.type === 'SessionParamsUpdated' ? mergeParams(context.params, event.data.params) : context.params),
    }),
    recordHangup: assign({
      hangup: ({ event }) => {
        if (event.type !== 'BotHangupRequested') return undefined;
        const d = event.data;
        const h: PendingHangup = { reason: d.hangupReason, headers: d.hangupSipHeaders, delayMs: d.delayMs, requestedAt: event.at, deadline: Date.parse(d.deadline) };
        if (d.playbackDeadline !== undefined) h.playbackDeadline = Date.parse(d.playbackDeadline);
        return h;
      },
    }),
    recordBye: assign({ byeSentAt: ({ event }) => event.at }),
    recordEnd: assign({ endedAt: ({ event }) => event.at }),
    /** The operator's hangup: a BYE now with the operator's reason (before answer: no BYE, the call just ends). */
    operatorEnding: assign(({ event }) => {
      if (event.type !== 'OperatorHangupRequested') return {};
      const ending: CallEnding = { reasonCode: 'operator-disconnected', reason: event.data.reason, terminatedBy: 'system' };
      const hangup: PendingHangup = { reason: event.data.reason, headers: [], delayMs: 0, requestedAt: event.at, deadline: event.at };
      return { ending, hangup, byeTrigger: 'immediate' as const };
    }),
    // After the final 2xx NOTIFY the call is transferred, whoever's BYE comes first.
    clientEnded: assign({
      ending: ({ context }): CallEnding =>
        context.transfer?.phase === 'succeeded' && context.ending ? context.ending : { reasonCode: 'client-disconnected', reason: CLIENT_SIDE_REASON, terminatedBy: 'client' },
    }),
    amdFact: assign({ amd: ({ context, event }) => amdOnEvent(context.amd, event) }),
    machineEnding: assign({
      ending: (): CallEnding => ({ reasonCode: 'machine-detected', reason: MACHINE_DETECTED_REASON, terminatedBy: 'system' }),
      byeTrigger: () => 'machine-detected' as const,
    }),
    recordTransfer: assign({ transfer: ({ event }) => transferFromRequest(event) }),
    recordRefer: assign({ transfer: ({ context }) => (context.transfer ? { ...context.transfer, phase: 'referred' as const } : undefined) }),
    recordTransferProgress: assign({ transfer: ({ context, event }) => transferOnProgress(context.transfer, event) }),
    recordTransferFailed: assign({
      transfer: ({ context, event }) =>
        context.transfer && event.type === 'TransferFailed' ? { ...context.transfer, phase: 'failed' as const, sipStatus: event.data.sipStatus, failure: event.data } : context.transfer,
    }),
    transferEnding: assign({
      ending: ({ context }): CallEnding => ({ reasonCode: 'transferred', reason: transferredReason(context.transfer), terminatedBy: 'bot' }),
      byeTrigger: () => 'transferred' as const,
    }),
    errorEnding: assign({
      ending: ({ context, event }): CallEnding => {
        const ending: CallEnding = {
          reasonCode: 'error',
          reason: event.type === 'BotStartFailed' || event.type === 'CallErrored' ? event.data.message : (context.errorReason ?? 'error'),
          terminatedBy: 'system',
        };
        // An inbound INVITE refused before answer (488 no codec, 503 no media port): its status.
        // Bot first: a bot that failed before answer refuses the INVITE with the status recorded on BotStartFailed.
        if ((event.type === 'CallErrored' || event.type === 'BotStartFailed') && event.data.sipStatus !== undefined) ending.sipStatus = event.data.sipStatus;
        return ending;
      },
      errorCode: ({ context, event }) => (event.type === 'BotStartFailed' || event.type === 'CallErrored' ? event.data.code : context.errorCode),
      byeTrigger: () => 'error' as const,
    }),
  },
}).createMachine({
  id: 'call',
  context: { callId: '', direction: 'inbound', botId: '', from: '', to: '', offeredAt: 0, cancelRequested: false, sttInProgress: false, playbacks: [], dtmfDigits: 0, rejectedInputs: 0, activityIds: [], params: {} },
  initial: 'idle',
  on: {
    // Facts that may arrive in any live state; `ended` (final) accepts nothing, so CallEnded stays last.
    SessionParamsUpdated: { actions: ['updateParams', 'noteActivity'] },
    SttStarted: { actions: 'trackSttStart' },
    SttFinalReceived: { actions: ['trackSttFinal', 'amdFact'] },
    SttFailed: { actions: 'trackSttFinal' },
    PlaybackStarted: { actions: ['trackPlaybackStart', 'noteActivity'] },
    PlaybackFinished: { actions: 'trackPlaybackEnd' },
    DtmfReceived: { actions: assign({ dtmfDigits: ({ context }) => context.dtmfDigits + 1 }) },
    BotInputRejected: { actions: ['countRejection', 'noteActivity'] },
    MediaNegotiated: { actions: 'noteMedia' },
  },
  states: {
    idle: {
      on: {
        CallOffered: [
          {
            guard: 'inbound',
            target: 'offered',
            actions: assign(({ event }) => ({ ...offerFacts(event), direction: 'inbound' as const })),
          },
          {
            target: 'dialing',
            actions: assign(({ event }) => {
              const ringTimeoutMs = event.type === 'CallOffered' ? (event.data.ringTimeoutMs ?? 30_000) : 30_000;
              return { ...offerFacts(event), direction: 'outbound' as const, ringTimeoutMs, ringDeadline: event.at + ringTimeoutMs };
            }),
          },
        ],
      },
    },
    offered: {
      on: {
        CallAnswered: [
          { guard: ({ context }) => context.botReady === true, target: 'active', actions: assign({ answeredAt: ({ event }) => event.at }) },
          { target: 'connecting', actions: assign({ answeredAt: ({ event }) => event.at }) },
        ],
        // Bot first (README, The rules: Answer): the conversation exists before the INVITE is answered.
        BotConversationStarted: { actions: assign({ botReady: () => true }) },
        BotStartFailed: { target: 'ending', actions: 'errorEnding' },
        CancelReceived: { target: 'ending', actions: 'clientEnded' },
        CallErrored: { target: 'ending', actions: 'errorEnding' },
        OperatorHangupRequested: { target: 'ending', actions: 'operatorEnding' },
      },
    },
    dialing: {
      on: {
        // The callee rings: a fact for the record and the call-status webhooks; nothing changes here.
        CallRinging: { actions: assign({}) },
        CallAnswered: { target: 'connecting', actions: assign({ answeredAt: ({ event }) => event.at, amd: ({ context }) => armAmd(context.params.machineDetection) }) },
        RingTimeoutReached: { actions: assign({ cancelRequested: () => true }) },
        OutboundCallFailed: {
          target: 'ending',
          actions: assign({
            ending: ({ event }) =>
              event.type === 'OutboundCallFailed'
                ? { reasonCode: event.data.reasonCode, reason: event.data.reason, terminatedBy: 'system' as const, sipStatus: event.data.sipStatus }
                : undefined,
          }),
        },
        CallErrored: { target: 'ending', actions: 'errorEnding' },
        OperatorHangupRequested: { target: 'ending', actions: 'operatorEnding' },
      },
    },
    connecting: {
      on: {
        BotConversationStarted: { target: 'active' },
        BotStartFailed: { target: 'byeDue', actions: 'errorEnding' },
        BotHangupRequested: [
          { guard: 'mustWaitForStt', target: 'awaitingSttFinal', actions: ['recordHangup', 'noteActivity'] },
          { guard: 'mustWaitForPlayback', target: 'awaitingPlayback', actions: ['recordHangup', 'noteActivity'] },
          { target: 'byeDue', actions: ['recordHangup', 'noteActivity', assign({ byeTrigger: () => 'immediate' as const })] },
        ],
        ByeReceived: { target: 'ending', actions: 'clientEnded' },
        CallErrored: { target: 'byeDue', actions: 'errorEnding' },
        OperatorHangupRequested: { target: 'byeDue', actions: 'operatorEnding' },
        AmdObserved: { guard: 'amdObserving', actions: 'amdFact' },
        AmdBeepDetected: { guard: 'amdListening', actions: 'amdFact' },
        AmdVerdictReached: [
          { guard: 'amdDisconnects', target: 'byeDue', actions: ['amdFact', 'machineEnding'] },
          { guard: 'amdListening', actions: 'amdFact' },
        ],
      },
    },
    active: {
      on: {
        BotHangupRequested: [
          { guard: 'mustWaitForStt', target: 'awaitingSttFinal', actions: ['recordHangup', 'noteActivity'] },
          { guard: 'mustWaitForPlayback', target: 'awaitingPlayback', actions: ['recordHangup', 'noteActivity'] },
          { target: 'byeDue', actions: ['recordHangup', 'noteActivity', assign({ byeTrigger: () => 'immediate' as const })] },
        ],
        ByeReceived: { target: 'ending', actions: 'clientEnded' },
        CallErrored: { target: 'byeDue', actions: 'errorEnding' },
        OperatorHangupRequested: { target: 'byeDue', actions: 'operatorEnding' },
        TransferRequested: { guard: 'transferAllowed', actions: ['recordTransfer', 'noteActivity'] },
        ReferSent: { guard: 'referDue', actions: 'recordRefer' },
        TransferProgressed: [
          { guard: 'transferSucceeds', target: 'byeDue', actions: ['recordTransferProgress', 'transferEnding'] },
          { guard: 'transferAwaiting', actions: 'recordTransferProgress' },
        ],
        TransferFailed: { guard: 'transferFailing', actions: 'recordTransferFailed' },
        AmdObserved: { guard: 'amdObserving', actions: 'amdFact' },
        AmdBeepDetected: { guard: 'amdListening', actions: 'amdFact' },
        AmdVerdictReached: [
          { guard: 'amdDisconnects', target: 'byeDue', actions: ['amdFact', 'machineEnding'] },
          { guard: 'amdListening', actions: 'amdFact' },
        ],
      },
    },
    awaitingSttFinal: {
      on: {
        SttFinalReceived: [
          { guard: 'playbackPending', target: 'awaitingPlayback', actions: 'trackSttFinal' },
          { target: 'byeDue', actions: ['trackSttFinal', assign({ byeTrigger: () => 'stt-final' as const })] },
        ],
        SttFailed: [
          { guard: 'playbackPending', target: 'awaitingPlayback', actions: 'trackSttFinal' },
          { target: 'byeDue', actions: ['trackSttFinal', assign({ byeTrigger: () => 'stt-failed' as const })] },
        ],
        // The deadline passed: `decide` emits ByeSent with trigger 'deadline'.
        ByeSent: { target: 'ending', actions: ['recordBye', assign({ byeTrigger: () => 'deadline' as const })] },
        ByeReceived: { target: 'ending', actions: 'clientEnded' },
        CallErrored: { target: 'byeDue', actions: 'errorEnding' },
        OperatorHangupRequested: { target: 'byeDue', actions: 'operatorEnding' },
      },
    },
    // A goodbye prompt plays: the BYE waits for its end, at most until the hangup's playbackDeadline.
    awaitingPlayback: {
      on: {
        PlaybackFinished: [
          { guard: not('lastPlaybackEnds'), actions: 'trackPlaybackEnd' },
          { guard: 'sttPending', target: 'awaitingSttFinal', actions: 'trackPlaybackEnd' },
          { target: 'byeDue', actions: ['trackPlaybackEnd', assign({ byeTrigger: () => 'playback-finished' as const })] },
        ],
        // The playback deadline passed: `decide` emits ByeSent with trigger 'deadline'.
        ByeSent: { target: 'ending', actions: ['recordBye', assign({ byeTrigger: () => 'deadline' as const })] },
        ByeReceived: { target: 'ending', actions: 'clientEnded' },
        CallErrored: { target: 'byeDue', actions: 'errorEnding' },
        OperatorHangupRequested: { target: 'byeDue', actions: 'operatorEnding' },
      },
    },
    byeDue: {
      on: {
        ByeSent: { target: 'ending', actions: 'recordBye' },
        // The peer's BYE hit the wire before ours: the caller ended the call, and we send none.
        ByeReceived: { target: 'ending', actions: 'clientEnded' },
      },
    },
    ending: {
      on: {
        CallEnded: { target: 'ended', actions: 'recordEnd' },
      },
    },
    ended: { type: 'final' },
  },
});

export type CallMachine = typeof callMachine;
