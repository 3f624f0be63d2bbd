/**
 * The rules every call history must keep, checked from the stream alone (and, where given, from
 * the BYEs the wire saw). Used on histories from the pure machine, from the runtime, after
 * restarts and under any scheduling. Each failed rule throws an AssertionError naming it.
 *
 * - every event validates against the catalogue; times never go back; CallOffered comes first;
 * - at most one CallEnded, and it is the last event (exactly one when `ended` is required);
 * - at most one ByeSent and one BotHangupRequested; never both ByeSent and ByeReceived;
 * - the STT wait (README, The rules: STT delay): a hangup at t with delay D while recognition is in progress sends
 *   its BYE at the STT final if that comes before t+D, else at t+D; never before t, never after
 *   t+D; immediately when nothing is being recognised or D = 0; sttWaitMs is the wait;
 * - the BYE carries the hangup's Reason and headers (wire-safe), CallEnded says who ended the call;
 * - wire: at most one BYE from us, none after the peer's; when the peer's BYE came first there is
 *   no ByeSent and the call is client-disconnected; a ByeSent went out on the wire exactly as recorded.
 */
import { AssertionError } from 'node:assert';
import { isDeepStrictEqual } from 'node:util';
import { validateEvent, type CallEventDataMap, type DomainEvent } from '../../../src/domain/events.ts';
import { buildReasonHeader, isForbiddenHeader, isSafeHeaderValue, isSipToken } from '../../../src/domain/hangup-headers.ts';
import { BOT_SIDE_REASON, CLIENT_SIDE_REASON } from '../../../src/domain/reason-codes.ts';
import { genericErrorReason } from '../../../src/domain/error-reasons.ts';
import { ERROR_Q850_CAUSE } from '../../../machines/decide.ts';
import type { WireBye } from './rig.ts';

export interface HistoryCheckOptions {
  /** The call must be over (exactly one CallEnded). */
  ended?: boolean;
  /** BYEs on the wire for this call, in wire order. */
  wire?: WireBye[];
  /**
   * Require CallOffered first (default). The machine's idle state takes the root-level facts
   * (SessionParamsUpdated, SttStarted, SttFinalReceived, BotInputRejected), so a pure history
   * that never offered a call may start with one of those; the runtime always offers first.
   */
  offerFirst?: boolean;
  /**
   * Decisions may be recorded late (a store that takes time to append, a timer that fires late):
   * the BYE then goes out at or after its due time, and sttWaitMs is still capped at D.
   */
  late?: boolean;
}

type Ev<T extends keyof CallEventDataMap> = Extract<DomainEvent, { type: T }>;

function fail(rule: string, detail: unknown, events: DomainEvent[]): never {
  const history = events.map((e) => `${e.type}@${e.at} ${JSON.stringify(e.data)}`.slice(0, 300)).join('\n  ');
  throw new AssertionError({ message: `${rule}: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}\n  history:\n  ${history}` });
}

function eq(rule: string, actual: unknown, expected: unknown, events: DomainEvent[]): void {
  if (!isDeepStrictEqual(actual, expected)) fail(rule, { actual, expected }, events);
}

function firstIndex(events: DomainEvent[], type: string, from = 0): number {
  for (let i = from; i < events.length; i++) if (events[i]!.type === type) return i;
  return -1;
}

/** Was speech recognition in progress just before index `i`? */
function sttInProgressBefore(events: DomainEvent[], i: number): boolean {
  let stt = false;
  for (let k = 0; k < i; k++) {
    if (events[k]!.type === 'SttStarted') stt = true;
    else if (events[k]!.type === 'SttFinalReceived') stt = false;
  }
  return stt;
}

export function checkCallHistory(events: DomainEvent[], opts: HistoryCheckOptions = {}): void {
  // Catalogue and order.
  for (const e of events) {
    try {
      validateEvent(e.type, e.data);
    } catch (err) {
      fail('every event validates', (err as Error).message, events);
    }
    if (e.type === 'BotNotified') fail('call streams hold call events only', e.type, events);
  }
  for (let i = 1; i < events.length; i++) if (events[i]!.at < events[i - 1]!.at) fail('times never go back', { index: i }, events);
  if ((opts.offerFirst ?? true) && events.length > 0 && events[0]!.type !== 'CallOffered') fail('CallOffered comes first', events[0]!.type, events);
  const callIds = new Set(events.map((e) => e.callId));
  if (callIds.size > 1) fail('one call per stream', [...callIds], events);

  const count = (t: string) => events.filter((e) => e.type === t).length;
  const ends = count('CallEnded');
  if (ends > 1) fail('at most one CallEnded', ends, events);
  if (ends === 1 && events[events.length - 1]!.type !== 'CallEnded') fail('CallEnded is the last event', events[events.length - 1]!.type, events);
  if (opts.ended && ends !== 1) fail('the call ended (exactly one CallEnded)', ends, events);
  if (count('ByeSent') > 1) fail('at most one ByeSent', count('ByeSent'), events);
  if (count('BotHangupRequested') > 1) fail('at most one BotHangupRequested is taken', count('BotHangupRequested'), events);
  if (count('RingTimeoutReached') > 1) fail('at most one RingTimeoutReached', count('RingTimeoutReached'), events);

  const byeAt = firstIndex(events, 'ByeSent');
  const byeRecvAt = firstIndex(events, 'ByeReceived');
  if (byeAt >= 0 && byeRecvAt >= 0) fail(byeRecvAt < byeAt ? 'never a ByeSent after ByeReceived' : 'nothing taken after our BYE', { byeAt, byeRecvAt }, events);

  const offered = events.find((e) => e.type === 'CallOffered') as Ev<'CallOffered'> | undefined;
  const answered = events.find((e) => e.type === 'CallAnswered');
  const hangupAt = firstIndex(events, 'BotHangupRequested');
  const hangup = hangupAt >= 0 ? (events[hangupAt] as Ev<'BotHangupRequested'>) : undefined;
  const bye = byeAt >= 0 ? (events[byeAt] as Ev<'ByeSent'>) : undefined;

  if (events.some((e) => e.type === 'RingTimeoutReached') && offered?.data.direction !== 'outbound') fail('only outbound calls ring out', offered?.data.direction, events);

  // Bot first (answer after-bot): the INVITE is answered only once the bot conversation exists; a bot
  // that fails before the answer refuses the INVITE (its status on BotStartFailed), with no BYE.
  if (offered?.data.answer === 'after-bot') {
    const startedAt = firstIndex(events, 'BotConversationStarted');
    const answeredAt = firstIndex(events, 'CallAnswered');
    if (answeredAt >= 0 && (startedAt < 0 || startedAt > answeredAt)) fail('bot first: CallAnswered follows BotConversationStarted', { startedAt, answeredAt }, events);
    const failedAt = firstIndex(events, 'BotStartFailed');
    if (failedAt >= 0) {
      if (answeredAt >= 0) fail('bot first: a bot that failed to start leaves the INVITE unanswered', { failedAt, answeredAt }, events);
      if (byeAt >= 0) fail('bot first: no BYE for a refused INVITE', byeAt, events);
      if ((events[failedAt] as Ev<'BotStartFailed'>).data.sipStatus === undefined) fail('bot first: BotStartFailed before answer records the INVITE\'s final status', failedAt, events);
    }
  }

  // The hangup request and its deadline.
  if (hangup) {
    if (!answered || events.indexOf(answered) > hangupAt) fail('a hangup is only taken on an answered call', hangupAt, events);
    const deadline = Date.parse(hangup.data.deadline);
    eq('BotHangupRequested.deadline = its time + delayMs', deadline, hangup.at + hangup.data.delayMs, events);
    if (hangup.data.delayMs > 10_000) fail('delayMs at most 10,000', hangup.data.delayMs, events);
  }

  // The BYE we sent: when, why, and what it carried.
  if (bye) {
    for (const h of bye.data.headers) {
      if (!isSipToken(h.name) || isForbiddenHeader(h.name) || !isSafeHeaderValue(h.value)) fail('BYE headers are wire-safe', h, events);
    }
    if (bye.data.reasonHeader !== null && /[\r\n\0]/.test(bye.data.reasonHeader)) fail('Reason header holds no CR, LF or NUL', bye.data.reasonHeader, events);
    if (bye.data.trigger === 'error') {
      const cause = [...events.slice(0, byeAt)].reverse().find((e) => e.type === 'CallErrored' || e.type === 'BotStartFailed') as Ev<'CallErrored'> | Ev<'BotStartFailed'> | undefined;
      if (!cause) fail('an error BYE follows CallErrored or BotStartFailed', byeAt, events);
      eq('error BYE: Reason with cause 41 and the generic text of the error code (never its message), no bot headers', { reasonHeader: bye.data.reasonHeader, headers: bye.data.headers, sttWaitMs: bye.data.sttWaitMs }, { reasonHeader: buildReasonHeader(genericErrorReason(cause.data.code), ERROR_Q850_CAUSE), headers: [], sttWaitMs: 0 }, events);
      eq('error BYE goes out when the error is recorded', bye.at, cause.at, events);
    } else {
      if (!hangup || hangupAt > byeAt) fail('a bot BYE follows BotHangupRequested', byeAt, events);
      eq('the BYE carries the hangup reason and headers', { reasonHeader: bye.data.reasonHeader, headers: bye.data.headers }, { reasonHeader: buildReasonHeader(hangup.data.hangupReason), headers: hangup.data.hangupSipHeaders }, events);
    }
    if (hangup && hangupAt < byeAt) {
      const t = hangup.at;
      const d = hangup.data.delayMs;
      if (bye.at < t) fail('never a BYE before the hangup request', { byeAt: bye.at, t }, events);
      if (bye.at > t + d && !opts.late) fail('never a BYE after the hangup deadline', { byeAt: bye.at, deadline: t + d }, events);
      if (bye.data.trigger !== 'error' && opts.late) {
        const finalAtBye = events.slice(hangupAt + 1, byeAt).some((e) => e.type === 'SttFinalReceived' && e.at === bye.at);
        const waits = d > 0 && sttInProgressBefore(events, hangupAt);
        const ok =
          (!waits && bye.data.trigger === 'immediate' && bye.at === t && bye.data.sttWaitMs === 0) ||
          (waits && bye.data.trigger === 'stt-final' && finalAtBye && bye.data.sttWaitMs === Math.min(bye.at, t + d) - t) ||
          (waits && bye.data.trigger === 'deadline' && bye.at >= t + d && bye.data.sttWaitMs === d);
        if (!ok) fail('STT wait (timers may be late): BYE at the final or at/after t+D, sttWaitMs capped at D; at once without recognition or D = 0', { byeAt: bye.at, t, d, data: bye.data }, events);
      } else if (bye.data.trigger !== 'error') {
        const waits = d > 0 && sttInProgressBefore(events, hangupAt);
        const finalAt = firstIndex(events, 'SttFinalReceived', hangupAt + 1);
        const final = finalAt >= 0 && finalAt < byeAt ? events[finalAt]! : undefined;
        let expected: { at: number; trigger: string; sttWaitMs: number };
        if (!waits) expected = { at: t, trigger: 'immediate', sttWaitMs: 0 };
        else if (final && final.at < t + d) expected = { at: final.at, trigger: 'stt-final', sttWaitMs: final.at - t };
        else expected = { at: t + d, trigger: 'deadline', sttWaitMs: d };
        eq('STT wait: BYE at the final if before t+D, else at t+D; at once without recognition or D = 0', { at: bye.at, trigger: bye.data.trigger, sttWaitMs: bye.data.sttWaitMs }, expected, events);
      }
    }
  }

  // CallEnded: who ended the call, and how long it lasted.
  const endIdx = firstIndex(events, 'CallEnded');
  if (endIdx >= 0) {
    const end = events[endIdx] as Ev<'CallEnded'>;
    const clientSide = events.some((e) => e.type === 'ByeReceived' || e.type === 'CancelReceived');
    const failedOut = events.find((e) => e.type === 'OutboundCallFailed') as Ev<'OutboundCallFailed'> | undefined;
    const lastError = [...events].reverse().find((e) => e.type === 'CallErrored' || e.type === 'BotStartFailed') as Ev<'CallErrored'> | undefined;
    let expected: Record<string, unknown>;
    if (clientSide) expected = { reasonCode: 'client-disconnected', reason: CLIENT_SIDE_REASON, terminatedBy: 'client' };
    else if (failedOut) expected = { reasonCode: failedOut.data.reasonCode, reason: failedOut.data.reason, terminatedBy: 'system', sipStatus: failedOut.data.sipStatus };
    else if (bye?.data.trigger === 'error' || (!bye && lastError)) {
      expected = { reasonCode: 'error', reason: lastError?.data.message, terminatedBy: 'system' };
      // Refused before answer (bot first: the bot could not start): the INVITE's final status recorded on the failure.
      if (!bye && !answered && lastError?.data.sipStatus !== undefined) expected.sipStatus = lastError.data.sipStatus;
    }
    else if (bye) expected = { reasonCode: 'bot-disconnected', reason: hangup?.data.hangupReason ?? BOT_SIDE_REASON, terminatedBy: 'bot' };
    else fail('a call ends for a reason (BYE, CANCEL, failure or error)', endIdx, events);
    expected.durationMs = answered ? end.at - answered.at : 0;
    eq('CallEnded says how and by whom the call ended', end.data, expected, events);
  }

  // The wire.
  if (opts.wire) {
    const ours = opts.wire.filter((w) => w.side === 'runtime');
    if (ours.length > 1) fail('at most one BYE from us on the wire', ours.length, events);
    const peerIdx = opts.wire.findIndex((w) => w.side === 'peer');
    const oursIdx = opts.wire.findIndex((w) => w.side === 'runtime');
    if (peerIdx >= 0 && oursIdx > peerIdx) fail('no BYE from us after the peer\'s BYE', opts.wire, events);
    const peerFirst = peerIdx >= 0 && (oursIdx < 0 || peerIdx < oursIdx);
    if (peerFirst && bye) fail('no ByeSent when the caller\'s BYE came first', { wire: opts.wire, byeSent: bye.data }, events);
    if (peerFirst && endIdx >= 0) eq('the caller\'s BYE came first: client-disconnected', (events[endIdx] as Ev<'CallEnded'>).data.reasonCode, 'client-disconnected', events);
    if (peerFirst && byeRecvAt < 0 && endIdx >= 0) fail('the caller\'s BYE on the wire is recorded as ByeReceived', opts.wire, events);
    if (bye && oursIdx < 0) fail('a recorded ByeSent went out on the wire', { byeSent: bye.data, wire: opts.wire }, events);
    if (!bye && oursIdx >= 0) fail('a BYE on the wire is recorded as ByeSent', opts.wire, events);
    if (bye && oursIdx >= 0) {
      const w = opts.wire[oursIdx]!;
      eq('the BYE went out exactly as recorded', { reasonHeader: w.reasonHeader, headers: w.headers }, { reasonHeader: bye.data.reasonHeader, headers: bye.data.headers }, events);
      // Append, then perform: the BYE leaves once ByeSent is durable, never before.
      if (w.at < bye.at) fail('the BYE goes on the wire after ByeSent is recorded', { wireAt: w.at, byeSentAt: bye.at }, events);
    }
  }
}
