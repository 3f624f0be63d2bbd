/**
 * The pure side of the property tests: generated input histories (any input type in any order,
 * valid per the catalogue, times moving in irregular steps) and a reference actor that feeds them
 * to the machine the way CallActor does (refused inputs are dropped, decisions follow each input,
 * wake-ups fire at `nextWakeUp` before later inputs), optionally rebuilding its snapshot from the
 * stream (`fold`) mid-way, as a restarted node does.
 */
import fc from 'fast-check';
import { accepts, decideAll, evolve, fold, initialSnapshot, nextWakeUp, stateOf, type CallSnapshot } from '../../../machines/decide.ts';
import type { CallEvent, CallEventDataMap, CallEventType } from '../../../src/domain/events.ts';
import { iso } from '../../../src/domain/clock.ts';
import { checkParams } from '../../../src/domain/bot-params.ts';
import { reasonCodeForSipFailure } from '../../../src/domain/reason-codes.ts';
import { hostileText, paramsBagArb, hangupSipHeadersArb } from './arbitraries.ts';
import { checkHangupHeaders } from '../../../src/domain/hangup-headers.ts';

export const SIM_CALL = 'sim-call';
export const SIM_T0 = Date.UTC(2026, 2, 1, 8, 0, 0);

/** An input as generated: its data, except BotHangupRequested's deadline, which depends on when it happens. */
export type InputSpec =
  | { type: Exclude<CallEventType, 'BotHangupRequested' | 'RingTimeoutReached' | 'ByeSent' | 'CallEnded'>; data: unknown }
  | { type: 'BotHangupRequested'; delayMs: number; hangupReason?: string; headers: CallEventDataMap['BotHangupRequested']['hangupSipHeaders'] };

export interface TimedSpec {
  /** Time since the previous input, ms. */
  dt: number;
  input: InputSpec;
}

export interface History {
  inputs: TimedSpec[];
}

const status = fc.constantFrom(408, 480, 486, 487, 600, 603, 404, 500, 0);

export const inputSpecArb: fc.Arbitrary<InputSpec> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<InputSpec>({ type: 'CallAnswered', data: { sipStatus: 200 } }) },
  { weight: 1, arbitrary: status.map((s): InputSpec => ({ type: 'OutboundCallFailed', data: { sipStatus: s, ...reasonCodeForSipFailure(s) } })) },
  { weight: 1, arbitrary: fc.constant<InputSpec>({ type: 'CancelReceived', data: {} }) },
  { weight: 3, arbitrary: fc.constant<InputSpec>({ type: 'BotConversationStarted', data: { provider: 'scripted', conversationId: 'c', ref: {} } }) },
  { weight: 1, arbitrary: hostileText.map((m): InputSpec => ({ type: 'BotStartFailed', data: { provider: 'scripted', code: 'VOX_BOT_UNREACHABLE', message: m } })) },
  {
    weight: 3,
    arbitrary: fc.tuple(paramsBagArb, fc.constantFrom('bot' as const, 'config' as const)).map(([bag, source]): InputSpec => ({ type: 'SessionParamsUpdated', data: { params: checkParams(bag, 'sessionParams').params, source } })),
  },
  {
    weight: 4,
    arbitrary: fc
      .record({
        delayMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 10_000 })),
        hangupReason: fc.option(hostileText, { nil: undefined }),
        headers: hangupSipHeadersArb.map((h) => checkHangupHeaders(h).accepted),
      })
      .map((r): InputSpec => ({ type: 'BotHangupRequested', delayMs: r.delayMs, headers: r.headers, ...(r.hangupReason === undefined ? {} : { hangupReason: r.hangupReason }) })),
  },
  { weight: 1, arbitrary: fc.constant<InputSpec>({ type: 'BotInputRejected', data: { field: 'activityParams.hangupSipHeaders[0]', reason: 'name is not a SIP token' } }) },
  { weight: 4, arbitrary: fc.constant<InputSpec>({ type: 'SttStarted', data: {} }) },
  { weight: 3, arbitrary: hostileText.map((text): InputSpec => ({ type: 'SttFinalReceived', data: { text } })) },
  { weight: 2, arbitrary: fc.option(hostileText, { nil: undefined }).map((r): InputSpec => ({ type: 'ByeReceived', data: r === undefined ? {} : { reasonHeader: r } })) },
  { weight: 1, arbitrary: hostileText.map((m): InputSpec => ({ type: 'CallErrored', data: { code: 'VOX_MEDIA', message: m } })) },
  {
    weight: 1,
    arbitrary: fc
      .record({ direction: fc.constantFrom('inbound' as const, 'outbound' as const), ringTimeoutMs: fc.option(fc.integer({ min: 0, max: 60_000 }), { nil: undefined }) })
      .map((o): InputSpec => ({ type: 'CallOffered', data: offerData(o.direction, o.ringTimeoutMs) })),
  },
);

function offerData(direction: 'inbound' | 'outbound', ringTimeoutMs: number | undefined): CallEventDataMap['CallOffered'] {
  return { direction, from: 'sip:a@x', to: 'sip:b@y', sipCallId: 's', botId: 'demo', ...(ringTimeoutMs === undefined ? {} : { ringTimeoutMs }) };
}

const dtArb = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 5, arbitrary: fc.integer({ min: 1, max: 800 }) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 12_000 }) });

/** Histories that mostly start with an offer and mostly get answered, then anything. */
export const historyArb: fc.Arbitrary<History> = fc
  .record({
    offer: fc.option(
      fc.record({ direction: fc.constantFrom('inbound' as const, 'inbound' as const, 'outbound' as const), ringTimeoutMs: fc.option(fc.integer({ min: 0, max: 60_000 }), { nil: undefined }) }),
      { nil: undefined, freq: 10 },
    ),
    answered: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    rest: fc.array(fc.record({ dt: dtArb, input: inputSpecArb }), { maxLength: 24, size: '+1' }),
  })
  .map(({ offer, answered, rest }) => {
    const inputs: TimedSpec[] = [];
    if (offer) inputs.push({ dt: 0, input: { type: 'CallOffered', data: offerData(offer.direction, offer.ringTimeoutMs) } });
    if (answered) {
      inputs.push({ dt: 10, input: { type: 'CallAnswered', data: { sipStatus: 200 } } });
      inputs.push({ dt: 5, input: { type: 'BotConversationStarted', data: { provider: 'scripted', conversationId: 'c', ref: {} } } });
    }
    return { inputs: [...inputs, ...rest] };
  });

export function materialise(spec: InputSpec, at: number): CallEvent {
  if (spec.type === 'BotHangupRequested') {
    const data: CallEventDataMap['BotHangupRequested'] = { hangupSipHeaders: spec.headers, delayMs: spec.delayMs, deadline: iso(at + spec.delayMs) };
    if (spec.hangupReason !== undefined) data.hangupReason = spec.hangupReason;
    return { type: 'BotHangupRequested', data, callId: SIM_CALL, at };
  }
  return { type: spec.type, data: spec.data, callId: SIM_CALL, at } as CallEvent;
}

/** A quiescent point: after an input batch (or a wake-up) was decided. */
export interface Checkpoint {
  at: number;
  /** Events in the stream so far. */
  length: number;
  snapshot: CallSnapshot;
}

export interface SimResult {
  stream: CallEvent[];
  snapshot: CallSnapshot;
  checkpoints: Checkpoint[];
  /** Inputs the machine refused (never appended). */
  refused: CallEvent[];
  /** Time after the last wake-up. */
  end: number;
}

/**
 * Runs a history the way CallActor would. `rebuildAfter`: input indexes after which the snapshot
 * is thrown away and rebuilt from the stream (a restart). After the last input, time runs on
 * long enough for every deadline (`tail` ms).
 */
export function simulate(history: History, opts: { rebuildAfter?: number[]; tail?: number } = {}): SimResult {
  let s = initialSnapshot();
  let t = SIM_T0;
  const stream: CallEvent[] = [];
  const checkpoints: Checkpoint[] = [];
  const refused: CallEvent[] = [];
  const decideAt = (now: number) => {
    const r = decideAll(s, now, SIM_CALL);
    s = r.snapshot;
    for (const d of r.decisions) stream.push({ ...d, callId: SIM_CALL, at: now } as CallEvent);
    return r.decisions.length;
  };
  const wakeUpsUntil = (until: number) => {
    for (let guard = 0; guard < 8; guard++) {
      const w = nextWakeUp(s);
      if (w === undefined || w > until) return;
      const n = decideAt(w);
      checkpoints.push({ at: w, length: stream.length, snapshot: s });
      if (n === 0) throw new Error(`nextWakeUp ${w} in ${stateOf(s)} decided nothing`);
    }
    throw new Error(`wake-ups do not settle in ${stateOf(s)}`);
  };
  history.inputs.forEach(({ dt, input }, i) => {
    t += dt;
    wakeUpsUntil(t);
    const e = materialise(input, t);
    if (!accepts(s, e)) {
      refused.push(e);
      return;
    }
    s = evolve(s, e);
    stream.push(e);
    decideAt(t);
    if (opts.rebuildAfter?.includes(i)) s = fold(stream);
    checkpoints.push({ at: t, length: stream.length, snapshot: s });
  });
  const end = t + (opts.tail ?? 100_000);
  wakeUpsUntil(end);
  return { stream, snapshot: s, checkpoints, refused, end };
}
