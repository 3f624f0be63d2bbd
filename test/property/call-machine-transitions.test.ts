/**
 * Golden transitions of the call statechart (machines/call-machine.ts) through its decider
 * (machines/decide.ts): every state × every call event type, taken or not, and where it leads;
 * what each state decides and when it wakes up; the context facts the decisions are built from;
 * and the decisions of the canonical stories, data and all. A change to the machine shows up
 * here as a changed row, on purpose.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { accepts, decide, decideAll, evolve, fold, initialSnapshot, nextWakeUp, stateOf, type CallSnapshot, type CallState, type Decision } from '../../machines/decide.ts';
import type { CallEvent, CallEventDataMap, CallEventType } from '../../src/domain/events.ts';
import { DELIVERY_EVENTS, EVENT_TYPES, validateEvent } from '../../src/domain/events.ts';
import { iso } from '../../src/domain/clock.ts';
import { genericErrorReason } from '../../src/domain/error-reasons.ts';

const CALL = 'golden-call';
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function ev<T extends CallEventType>(type: T, data: CallEventDataMap[T], at: number): CallEvent {
  return { type, data, callId: CALL, at } as CallEvent;
}

const offerIn = (at = T0) => ev('CallOffered', { direction: 'inbound', from: 'sip:alice@a', to: '1000', sipCallId: 'sip-1', botId: 'demo' }, at);
const offerOut = (at = T0, ringTimeoutMs?: number) =>
  ev('CallOffered', { direction: 'outbound', from: 'voxledger', to: 'sip:bob@b', sipCallId: '', botId: 'demo', ...(ringTimeoutMs === undefined ? {} : { ringTimeoutMs }) }, at);
const hangup = (at: number, delayMs: number, hangupReason?: string) =>
  ev('BotHangupRequested', { hangupSipHeaders: [{ name: 'X-My-Header', value: 'my_value' }], delayMs, deadline: iso(at + delayMs), ...(hangupReason === undefined ? {} : { hangupReason }) }, at);

/** One sample of each call event type (at T0 + 1,000). */
const AT = T0 + 1_000;
const SAMPLE: Record<CallEventType, CallEvent> = {
  CallOffered: offerIn(AT),
  CallAnswered: ev('CallAnswered', { sipStatus: 200 }, AT),
  CallRinging: ev('CallRinging', { sipStatus: 180 }, AT),
  OutboundCallFailed: ev('OutboundCallFailed', { sipStatus: 486, reasonCode: 'busy', reason: 'Busy Here' }, AT),
  RingTimeoutReached: ev('RingTimeoutReached', { ringTimeoutMs: 30_000 }, AT),
  CancelReceived: ev('CancelReceived', {}, AT),
  BotConversationStarted: ev('BotConversationStarted', { provider: 'scripted', conversationId: 'c-1', ref: {} }, AT),
  BotStartFailed: ev('BotStartFailed', { provider: 'scripted', code: 'VOX_BOT_UNREACHABLE', message: 'bot down' }, AT),
  SessionParamsUpdated: ev('SessionParamsUpdated', { params: { botOperationResult: 'success' }, source: 'bot' }, AT),
  BotHangupRequested: hangup(AT, 0, 'done'),
  OperatorHangupRequested: ev('OperatorHangupRequested', { reason: 'stuck call', operator: 'ops' }, AT),
  BotInputRejected: ev('BotInputRejected', { field: 'activityParams.hangupSipHeaders[0]', reason: 'header is set by the runtime, never by a bot', excerpt: 'Via' }, AT),
  SttStarted: ev('SttStarted', {}, AT),
  SttFinalReceived: ev('SttFinalReceived', { text: 'thanks', confidence: 0.9 }, AT),
  ByeSent: ev('ByeSent', { reasonHeader: 'Q.850;cause=16;text="done"', headers: [], trigger: 'immediate', sttWaitMs: 0 }, AT),
  ByeReceived: ev('ByeReceived', { reasonHeader: 'Q.850;cause=16' }, AT),
  CallErrored: ev('CallErrored', { code: 'VOX_MEDIA', message: 'media gone' }, AT),
  SttFailed: ev('SttFailed', { code: 'VOX_SPEECH_ENGINE', message: 'ps-stream exited (SIGKILL)' }, AT),
  PlaybackStarted: ev('PlaybackStarted', { playbackId: 'p-new', text: 'Goodbye.' }, AT),
  PlaybackFinished: ev('PlaybackFinished', { playbackId: 'p-1', outcome: 'played' }, AT),
  DtmfReceived: ev('DtmfReceived', { digit: '5', durationMs: 100 }, AT),
  MediaNegotiated: ev('MediaNegotiated', { engine: 'embedded', codec: 'PCMU', payloadType: 0, dtmfPayloadType: 101, local: { address: '127.0.0.1', port: 30000 }, remote: { address: '127.0.0.1', port: 40000 }, direction: 'sendrecv', trigger: 'answer', onHold: false }, AT),
  CallEnded: ev('CallEnded', { reasonCode: 'bot-disconnected', reason: 'done', terminatedBy: 'bot', durationMs: 1_000 }, AT),
  TransferRequested: ev('TransferRequested', { target: 'sip:agent@pbx', headers: [], timeoutMs: 60_000, deadline: iso(AT + 60_000) }, AT),
  // With no transfer under way these are refused everywhere (test/runtime/transfer-machine.test.ts covers the transfer's own states).
  ReferSent: ev('ReferSent', { target: 'sip:agent@pbx', headers: [] }, AT),
  TransferProgressed: ev('TransferProgressed', { source: 'notify', sipStatus: 200 }, AT),
  TransferFailed: ev('TransferFailed', { sipStatus: 603, reasonCode: 'declined', reason: 'Decline', cause: 'refer-failed' }, AT),
  // With no detector armed (inbound, no policy) these are refused everywhere (test/runtime/amd-machine.test.ts covers the armed ones).
  AmdObserved: ev('AmdObserved', { initialSilenceMs: 300, greetingMs: 500, silenceAfterMs: 800, endedBy: 'silence-after-greeting', beepWaitMs: 0 }, AT),
  AmdBeepDetected: ev('AmdBeepDetected', { atMs: 3000, freqHz: 1000, durationMs: 120 }, AT),
  AmdVerdictReached: ev('AmdVerdictReached', { result: 'human', reason: 'short', words: 1, greetingMs: 500, beep: false, policy: 'detect', action: 'tell-bot' }, AT),
};
const CALL_EVENT_TYPES = EVENT_TYPES.filter((t): t is CallEventType => !DELIVERY_EVENTS.has(t));

/** A canonical way into each state (times from T0, 10 ms apart; the STT wait has a 2,000 ms delay). */
const PATHS: Record<CallState, CallEvent[]> = {
  idle: [],
  offered: [offerIn()],
  dialing: [offerOut()],
  connecting: [offerIn(), ev('CallAnswered', { sipStatus: 200 }, T0 + 10)],
  active: [offerIn(), ev('CallAnswered', { sipStatus: 200 }, T0 + 10), ev('BotConversationStarted', { provider: 'scripted', conversationId: 'c-1', ref: {} }, T0 + 20)],
  awaitingSttFinal: [
    offerIn(), ev('CallAnswered', { sipStatus: 200 }, T0 + 10), ev('BotConversationStarted', { provider: 'scripted', conversationId: 'c-1', ref: {} }, T0 + 20),
    ev('SttStarted', {}, T0 + 30), hangup(T0 + 40, 2_000, 'done'),
  ],
  awaitingPlayback: [
    offerIn(), ev('CallAnswered', { sipStatus: 200 }, T0 + 10), ev('BotConversationStarted', { provider: 'scripted', conversationId: 'c-1', ref: {} }, T0 + 20),
    ev('PlaybackStarted', { playbackId: 'p-1', text: 'Goodbye.' }, T0 + 30), { ...hangup(T0 + 40, 0, 'done'), data: { ...hangup(T0 + 40, 0, 'done').data, playbackDeadline: iso(T0 + 40 + 8_000) } } as CallEvent,
  ],
  byeDue: [offerIn(), ev('CallAnswered', { sipStatus: 200 }, T0 + 10), ev('BotConversationStarted', { provider: 'scripted', conversationId: 'c-1', ref: {} }, T0 + 20), hangup(T0 + 40, 0, 'done')],
  ending: [
    offerIn(), ev('CallAnswered', { sipStatus: 200 }, T0 + 10), ev('BotConversationStarted', { provider: 'scripted', conversationId: 'c-1', ref: {} }, T0 + 20), hangup(T0 + 40, 0, 'done'),
    ev('ByeSent', { reasonHeader: 'Q.850;cause=16;text="done"', headers: [{ name: 'X-My-Header', value: 'my_value' }], trigger: 'immediate', sttWaitMs: 0 }, T0 + 40),
  ],
  ended: [
    offerIn(), ev('CallAnswered', { sipStatus: 200 }, T0 + 10), ev('BotConversationStarted', { provider: 'scripted', conversationId: 'c-1', ref: {} }, T0 + 20), hangup(T0 + 40, 0, 'done'),
    ev('ByeSent', { reasonHeader: 'Q.850;cause=16;text="done"', headers: [{ name: 'X-My-Header', value: 'my_value' }], trigger: 'immediate', sttWaitMs: 0 }, T0 + 40),
    ev('CallEnded', { reasonCode: 'bot-disconnected', reason: 'done', terminatedBy: 'bot', durationMs: 30 }, T0 + 40),
  ],
};
const STATES = Object.keys(PATHS) as CallState[];

/**
 * The golden table: for each state, the event types it takes and the state each leads to.
 * Every type not listed is refused (`accepts` false; the runtime never appends it).
 * SessionParamsUpdated, SttStarted, SttFinalReceived, BotInputRejected and MediaNegotiated are taken in every
 * live state (the machine's root handlers), and so are the speech facts SttFailed, PlaybackStarted,
 * PlaybackFinished and DtmfReceived; `ended` is final and takes nothing.
 */
const speech = (s: CallState): Partial<Record<CallEventType, CallState>> => ({ SttFailed: s, PlaybackStarted: s, PlaybackFinished: s, DtmfReceived: s });
const GOLDEN: Record<CallState, Partial<Record<CallEventType, CallState>>> = {
  idle: { CallOffered: 'offered', SessionParamsUpdated: 'idle', BotInputRejected: 'idle', MediaNegotiated: 'idle', ...speech('idle'), SttStarted: 'idle', SttFinalReceived: 'idle' },
  offered: {
    CallAnswered: 'connecting', CancelReceived: 'ending', CallErrored: 'ending', OperatorHangupRequested: 'ending',
    BotConversationStarted: 'offered', BotStartFailed: 'ending', // bot first (answer after-bot)
    SessionParamsUpdated: 'offered', BotInputRejected: 'offered', MediaNegotiated: 'offered', ...speech('offered'), SttStarted: 'offered', SttFinalReceived: 'offered',
  },
  dialing: {
    CallAnswered: 'connecting', CallRinging: 'dialing', RingTimeoutReached: 'dialing', OutboundCallFailed: 'ending', CallErrored: 'ending', OperatorHangupRequested: 'ending',
    SessionParamsUpdated: 'dialing', BotInputRejected: 'dialing', MediaNegotiated: 'dialing', ...speech('dialing'), SttStarted: 'dialing', SttFinalReceived: 'dialing',
  },
  connecting: {
    BotConversationStarted: 'active', BotStartFailed: 'byeDue', BotHangupRequested: 'byeDue', ByeReceived: 'ending', CallErrored: 'byeDue', OperatorHangupRequested: 'byeDue',
    SessionParamsUpdated: 'connecting', BotInputRejected: 'connecting', MediaNegotiated: 'connecting', ...speech('connecting'), SttStarted: 'connecting', SttFinalReceived: 'connecting',
  },
  active: {
    BotHangupRequested: 'byeDue', ByeReceived: 'ending', CallErrored: 'byeDue', OperatorHangupRequested: 'byeDue', TransferRequested: 'active',
    SessionParamsUpdated: 'active', BotInputRejected: 'active', MediaNegotiated: 'active', ...speech('active'), SttStarted: 'active', SttFinalReceived: 'active',
  },
  awaitingSttFinal: {
    SttFinalReceived: 'byeDue', ByeSent: 'ending', ByeReceived: 'ending', CallErrored: 'byeDue', OperatorHangupRequested: 'byeDue',
    SessionParamsUpdated: 'awaitingSttFinal', BotInputRejected: 'awaitingSttFinal', MediaNegotiated: 'awaitingSttFinal', SttStarted: 'awaitingSttFinal',
    ...speech('awaitingSttFinal'), SttFailed: 'byeDue',
  },
  awaitingPlayback: {
    PlaybackFinished: 'byeDue', ByeSent: 'ending', ByeReceived: 'ending', CallErrored: 'byeDue', OperatorHangupRequested: 'byeDue',
    SessionParamsUpdated: 'awaitingPlayback', BotInputRejected: 'awaitingPlayback', MediaNegotiated: 'awaitingPlayback', SttStarted: 'awaitingPlayback',
    SttFinalReceived: 'awaitingPlayback', SttFailed: 'awaitingPlayback', PlaybackStarted: 'awaitingPlayback', DtmfReceived: 'awaitingPlayback',
  },
  byeDue: {
    ByeSent: 'ending', ByeReceived: 'ending',
    SessionParamsUpdated: 'byeDue', BotInputRejected: 'byeDue', MediaNegotiated: 'byeDue', ...speech('byeDue'), SttStarted: 'byeDue', SttFinalReceived: 'byeDue',
  },
  ending: { CallEnded: 'ended', SessionParamsUpdated: 'ending', BotInputRejected: 'ending', MediaNegotiated: 'ending', ...speech('ending'), SttStarted: 'ending', SttFinalReceived: 'ending' },
  ended: {},
};

function reach(state: CallState): CallSnapshot {
  const s = fold(PATHS[state]);
  assert.equal(stateOf(s), state, `the path into ${state}`);
  return s;
}

function comparable(s: CallSnapshot) {
  return { value: s.value, status: s.status, context: s.context };
}

describe('call machine: golden transitions (pure)', () => {
  it('the samples and paths are valid catalogue events', () => {
    for (const e of [...Object.values(SAMPLE), ...Object.values(PATHS).flat()]) validateEvent(e.type, e.data);
    assert.deepEqual(Object.keys(SAMPLE).sort(), [...CALL_EVENT_TYPES].sort(), 'one sample per call event type');
  });

  for (const state of STATES) {
    it(`${state}: every event type is taken or refused as the table says`, () => {
      const s = reach(state);
      const rows: string[] = [];
      for (const type of CALL_EVENT_TYPES) {
        const e = SAMPLE[type];
        const taken = accepts(s, e);
        const next = evolve(s, e);
        rows.push(`${type}: ${taken ? stateOf(next) : '-'}`);
      }
      const golden = CALL_EVENT_TYPES.map((type) => `${type}: ${GOLDEN[state][type] ?? '-'}`);
      assert.deepEqual(rows, golden);
    });
  }

  it('a refused event changes nothing when folded (evolve agrees with accepts; `ended` is final for every handler)', () => {
    const changed: string[] = [];
    for (const state of STATES) {
      const s = reach(state);
      for (const type of CALL_EVENT_TYPES) {
        if (accepts(s, SAMPLE[type])) continue;
        if (!isDeepStrictEqual(comparable(evolve(s, SAMPLE[type])), comparable(s))) changed.push(`${state} × ${type}`);
      }
    }
    assert.deepEqual(changed, [], 'refused events that still changed the snapshot');
  });

  it('guarded branches: outbound offer dials; a hangup while recognising with a delay waits (connecting and active)', () => {
    assert.equal(stateOf(evolve(initialSnapshot(), offerOut(AT))), 'dialing');
    for (const from of ['connecting', 'active'] as const) {
      const recognising = evolve(reach(from), ev('SttStarted', {}, AT));
      assert.equal(stateOf(evolve(recognising, hangup(AT, 1, 'x'))), 'awaitingSttFinal', `${from}, recognising, delay 1`);
      assert.equal(stateOf(evolve(recognising, hangup(AT, 0, 'x'))), 'byeDue', `${from}, recognising, delay 0`);
      assert.equal(stateOf(evolve(reach(from), hangup(AT, 10_000, 'x'))), 'byeDue', `${from}, not recognising, delay 10,000`);
      const finished = evolve(recognising, ev('SttFinalReceived', { text: 'x' }, AT));
      assert.equal(stateOf(evolve(finished, hangup(AT, 500, 'x'))), 'byeDue', `${from}, recognition finished`);
    }
  });

  it('context facts: offer, ring deadline, params (last write wins), hangup, rejections, endings', () => {
    const inbound = reach('offered').context;
    assert.deepEqual(
      { callId: inbound.callId, direction: inbound.direction, botId: inbound.botId, from: inbound.from, to: inbound.to, offeredAt: inbound.offeredAt, ringDeadline: inbound.ringDeadline },
      { callId: CALL, direction: 'inbound', botId: 'demo', from: 'sip:alice@a', to: '1000', offeredAt: T0, ringDeadline: undefined },
    );
    assert.equal(fold([offerOut(T0, 5_000)]).context.ringDeadline, T0 + 5_000);
    assert.equal(fold([offerOut(T0)]).context.ringDeadline, T0 + 30_000, 'default ring timeout 30 s');

    const params = fold([
      offerIn(),
      ev('SessionParamsUpdated', { params: { botOperationResult: 'failure', delayBotDisconnectMs: 300 }, source: 'config' }, T0),
      ev('SessionParamsUpdated', { params: { botOperationResult: 'success', botOperationData: { a: 1 } }, source: 'bot' }, T0 + 1),
      ev('BotInputRejected', { field: 'x', reason: 'y' }, T0 + 2),
      ev('BotInputRejected', { field: 'x', reason: 'y' }, T0 + 3),
    ]).context;
    assert.deepEqual(params.params, { botOperationResult: 'success', delayBotDisconnectMs: 300, botOperationData: { a: 1 } });
    assert.equal(params.rejectedInputs, 2);

    const waiting = reach('awaitingSttFinal').context;
    assert.deepEqual(waiting.hangup, { reason: 'done', headers: [{ name: 'X-My-Header', value: 'my_value' }], delayMs: 2_000, requestedAt: T0 + 40, deadline: T0 + 2_040 });
    assert.equal(waiting.sttInProgress, true);
    assert.equal(reach('byeDue').context.byeTrigger, 'immediate');
    assert.equal(evolve(reach('awaitingSttFinal'), ev('SttFinalReceived', { text: 'x' }, T0 + 50)).context.byeTrigger, 'stt-final');

    assert.deepEqual(evolve(reach('active'), SAMPLE.ByeReceived).context.ending, { reasonCode: 'client-disconnected', reason: 'Client Side', terminatedBy: 'client' });
    assert.deepEqual(evolve(reach('offered'), SAMPLE.CancelReceived).context.ending, { reasonCode: 'client-disconnected', reason: 'Client Side', terminatedBy: 'client' });
    const errored = evolve(reach('active'), SAMPLE.CallErrored).context;
    assert.deepEqual([errored.ending, errored.byeTrigger], [{ reasonCode: 'error', reason: 'media gone', terminatedBy: 'system' }, 'error']);
    const startFailed = evolve(reach('connecting'), SAMPLE.BotStartFailed).context;
    assert.deepEqual([startFailed.ending, startFailed.byeTrigger], [{ reasonCode: 'error', reason: 'bot down', terminatedBy: 'system' }, 'error']);
    assert.deepEqual(evolve(reach('dialing'), SAMPLE.OutboundCallFailed).context.ending, { reasonCode: 'busy', reason: 'Busy Here', terminatedBy: 'system', sipStatus: 486 });
    assert.equal(reach('ended').context.endedAt, T0 + 40);
    assert.equal(reach('ending').context.byeSentAt, T0 + 40);
  });

  it('what each state decides, and when it wakes up', () => {
    const far = T0 + 1_000_000;
    const none: CallState[] = ['idle', 'offered', 'connecting', 'active', 'ended'];
    for (const state of none) {
      const s = reach(state);
      assert.equal(decide(s, T0 + 40), undefined, `${state} decides nothing now`);
      assert.equal(decide(s, far), undefined, `${state} decides nothing later either`);
      assert.equal(nextWakeUp(s), undefined, `${state} needs no wake-up`);
    }

    const dialing = reach('dialing');
    assert.equal(nextWakeUp(dialing), T0 + 30_000);
    assert.equal(decide(dialing, T0 + 29_999), undefined);
    assert.deepEqual(decide(dialing, T0 + 30_000), { type: 'RingTimeoutReached', data: { ringTimeoutMs: 30_000 } });
    const cancelling = evolve(dialing, { ...SAMPLE.RingTimeoutReached, at: T0 + 30_000 });
    assert.equal(decide(cancelling, far), undefined, 'the ring timeout is decided once');
    assert.equal(nextWakeUp(cancelling), undefined);

    const waiting = reach('awaitingSttFinal');
    assert.equal(nextWakeUp(waiting), T0 + 2_040);
    assert.equal(decide(waiting, T0 + 2_039), undefined);
    const headers = [{ name: 'X-My-Header', value: 'my_value' }];
    assert.deepEqual(decide(waiting, T0 + 2_040), { type: 'ByeSent', data: { reasonHeader: 'Q.850;cause=16;text="done"', headers, trigger: 'deadline', sttWaitMs: 2_000 } });
    assert.deepEqual(decide(waiting, far), { type: 'ByeSent', data: { reasonHeader: 'Q.850;cause=16;text="done"', headers, trigger: 'deadline', sttWaitMs: 2_000 } }, 'a late wake-up still waited only D');

    assert.deepEqual(decide(reach('byeDue'), T0 + 40), { type: 'ByeSent', data: { reasonHeader: 'Q.850;cause=16;text="done"', headers, trigger: 'immediate', sttWaitMs: 0 } });
    assert.equal(nextWakeUp(reach('byeDue')), undefined);
    assert.deepEqual(decide(reach('ending'), T0 + 40), { type: 'CallEnded', data: { reasonCode: 'bot-disconnected', reason: 'done', terminatedBy: 'bot', durationMs: 30 } });
  });

  describe('canonical stories: the decisions, data and all', () => {
    /** Feeds inputs (and wake-ups: `{ wake: t }`) as the runtime would; returns every decision with its time. */
    const story = (items: Array<CallEvent | { wake: number }>): Array<Decision & { at: number }> => {
      let s = initialSnapshot();
      const out: Array<Decision & { at: number }> = [];
      for (const item of items) {
        let now: number;
        if ('wake' in item) {
          assert.equal(nextWakeUp(s), item.wake, `wake-up due in ${stateOf(s)}`);
          now = item.wake;
        } else {
          assert.ok(accepts(s, item), `${item.type} taken in ${stateOf(s)}`);
          s = evolve(s, item);
          now = item.at;
        }
        const r = decideAll(s, now, CALL);
        s = r.snapshot;
        out.push(...r.decisions.map((d) => ({ ...d, at: now })));
      }
      assert.equal(stateOf(s), 'ended');
      for (const d of out) validateEvent(d.type, d.data);
      return out;
    };
    const answeredAt = T0 + 10;
    const live = [offerIn(), ev('CallAnswered', { sipStatus: 200 }, answeredAt), ev('BotConversationStarted', { provider: 'scripted', conversationId: 'c', ref: {} }, T0 + 20)];
    const headers = [{ name: 'X-My-Header', value: 'my_value' }];

    it('bot hangup, nothing being recognised: BYE at once with the Reason and headers', () => {
      assert.deepEqual(story([...live, hangup(T0 + 100, 3_000, 'completed "successfully"')]), [
        { type: 'ByeSent', data: { reasonHeader: 'Q.850;cause=16;text="completed \\"successfully\\""', headers, trigger: 'immediate', sttWaitMs: 0 }, at: T0 + 100 },
        { type: 'CallEnded', data: { reasonCode: 'bot-disconnected', reason: 'completed "successfully"', terminatedBy: 'bot', durationMs: 90 }, at: T0 + 100 },
      ]);
    });

    it('bot hangup without a reason: Q.850 cause 16 alone, reason "Bot Side"', () => {
      assert.deepEqual(story([...live, hangup(T0 + 100, 0)]), [
        { type: 'ByeSent', data: { reasonHeader: 'Q.850;cause=16', headers, trigger: 'immediate', sttWaitMs: 0 }, at: T0 + 100 },
        { type: 'CallEnded', data: { reasonCode: 'bot-disconnected', reason: 'Bot Side', terminatedBy: 'bot', durationMs: 90 }, at: T0 + 100 },
      ]);
    });

    it('bot hangup while recognising: the final result comes first', () => {
      assert.deepEqual(story([...live, ev('SttStarted', {}, T0 + 50), hangup(T0 + 100, 3_000, 'bye'), ev('SttFinalReceived', { text: 'wait' }, T0 + 1_100)]), [
        { type: 'ByeSent', data: { reasonHeader: 'Q.850;cause=16;text="bye"', headers, trigger: 'stt-final', sttWaitMs: 1_000 }, at: T0 + 1_100 },
        { type: 'CallEnded', data: { reasonCode: 'bot-disconnected', reason: 'bye', terminatedBy: 'bot', durationMs: 1_090 }, at: T0 + 1_100 },
      ]);
    });

    it('bot hangup while recognising: the deadline comes first', () => {
      assert.deepEqual(story([...live, ev('SttStarted', {}, T0 + 50), hangup(T0 + 100, 3_000, 'bye'), { wake: T0 + 3_100 }]), [
        { type: 'ByeSent', data: { reasonHeader: 'Q.850;cause=16;text="bye"', headers, trigger: 'deadline', sttWaitMs: 3_000 }, at: T0 + 3_100 },
        { type: 'CallEnded', data: { reasonCode: 'bot-disconnected', reason: 'bye', terminatedBy: 'bot', durationMs: 3_090 }, at: T0 + 3_100 },
      ]);
    });

    it('the caller hangs up while the BYE waits for the final result: no BYE from us', () => {
      assert.deepEqual(story([...live, ev('SttStarted', {}, T0 + 50), hangup(T0 + 100, 3_000, 'bye'), ev('ByeReceived', {}, T0 + 400)]), [
        { type: 'CallEnded', data: { reasonCode: 'client-disconnected', reason: 'Client Side', terminatedBy: 'client', durationMs: 390 }, at: T0 + 400 },
      ]);
    });

    it('inbound CANCEL before answer: client-disconnected, duration 0', () => {
      assert.deepEqual(story([offerIn(), ev('CancelReceived', {}, T0 + 5)]), [
        { type: 'CallEnded', data: { reasonCode: 'client-disconnected', reason: 'Client Side', terminatedBy: 'client', durationMs: 0 }, at: T0 + 5 },
      ]);
    });

    it('outbound ring timeout: RingTimeoutReached, then the CANCEL\'s 487 ends it as no-answer', () => {
      assert.deepEqual(story([offerOut(T0, 5_000), { wake: T0 + 5_000 }, ev('OutboundCallFailed', { sipStatus: 487, reasonCode: 'no-answer', reason: 'Ring timeout' }, T0 + 5_000)]), [
        { type: 'RingTimeoutReached', data: { ringTimeoutMs: 5_000 }, at: T0 + 5_000 },
        { type: 'CallEnded', data: { reasonCode: 'no-answer', reason: 'Ring timeout', terminatedBy: 'system', durationMs: 0, sipStatus: 487 }, at: T0 + 5_000 },
      ]);
    });

    it('operator hangup while the BYE waits for the final result: BYE at once with the operator\'s reason, operator-disconnected by the system', () => {
      assert.deepEqual(story([...live, ev('SttStarted', {}, T0 + 50), hangup(T0 + 100, 3_000, 'bye'), ev('OperatorHangupRequested', { reason: 'stuck call', operator: 'ops' }, T0 + 200)]), [
        { type: 'ByeSent', data: { reasonHeader: 'Q.850;cause=16;text="stuck call"', headers: [], trigger: 'immediate', sttWaitMs: 0 }, at: T0 + 200 },
        { type: 'CallEnded', data: { reasonCode: 'operator-disconnected', reason: 'stuck call', terminatedBy: 'system', durationMs: 190 }, at: T0 + 200 },
      ]);
    });

    it('operator hangup of a ringing outbound call: no BYE, operator-disconnected, duration 0', () => {
      assert.deepEqual(story([offerOut(T0, 5_000), ev('OperatorHangupRequested', { reason: 'campaign stopped', operator: 'ops' }, T0 + 100)]), [
        { type: 'CallEnded', data: { reasonCode: 'operator-disconnected', reason: 'campaign stopped', terminatedBy: 'system', durationMs: 0 }, at: T0 + 100 },
      ]);
    });

    it('bot first: the conversation before the answer, then the answered call is active at once', () => {
      const s = fold([offerIn(), ev('BotConversationStarted', { provider: 'scripted', conversationId: 'c', ref: {} }, T0 + 5), ev('CallAnswered', { sipStatus: 200 }, T0 + 6)]);
      assert.equal(stateOf(s), 'active');
      assert.equal(s.context.answeredAt, T0 + 6);
    });

    it('bot first: the bot fails before answer: no BYE, CallEnded error with the INVITE\'s recorded final status', () => {
      assert.deepEqual(story([offerIn(), ev('BotStartFailed', { provider: 'scripted', code: 'VOX_BOT_UNREACHABLE', message: 'down', sipStatus: 480 }, T0 + 30)]), [
        { type: 'CallEnded', data: { reasonCode: 'error', reason: 'down', terminatedBy: 'system', durationMs: 0, sipStatus: 480 }, at: T0 + 30 },
      ]);
    });

    it('error BYE text depends on the recorded code only, never on the message (property)', () => {
      const codes = fc.constantFrom('VOX_BOT_UNREACHABLE', 'VOX_BOT_PROTOCOL', 'VOX_MEDIA_ENGINE', 'VOX_SIP_TRANSPORT', 'VOX_CALL_RECOVERED', 'VOX_SOMETHING_ELSE');
      fc.assert(
        fc.property(codes, fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (code, m1, m2) => {
          const bye = (message: string) => story([offerIn(), ev('CallAnswered', { sipStatus: 200 }, answeredAt), ev('CallErrored', { code, message }, T0 + 30)])[0]!;
          const a = bye(m1);
          assert.equal(a.type, 'ByeSent');
          assert.deepEqual(a, bye(m2));
          assert.equal((a.data as { reasonHeader: string }).reasonHeader, `Q.850;cause=41;text="${genericErrorReason(code)}"`);
        }),
        { numRuns: 50 },
      );
    });

    it('bot cannot start: BYE with Q.850 cause 41 and generic text (details only in the events), CallEnded error', () => {
      assert.deepEqual(story([offerIn(), ev('CallAnswered', { sipStatus: 200 }, answeredAt), ev('BotStartFailed', { provider: 'scripted', code: 'VOX_BOT_UNREACHABLE', message: 'bot "down"' }, T0 + 30)]), [
        { type: 'ByeSent', data: { reasonHeader: 'Q.850;cause=41;text="bot unavailable"', headers: [], trigger: 'error', sttWaitMs: 0 }, at: T0 + 30 },
        { type: 'CallEnded', data: { reasonCode: 'error', reason: 'bot "down"', terminatedBy: 'system', durationMs: 20 }, at: T0 + 30 },
      ]);
    });
  });
});
