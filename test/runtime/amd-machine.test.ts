/**
 * Answering-machine detection in the pure machine: armed at answer on outbound calls with a
 * policy, the verdict from the recorded observation, beep and words, what each policy does
 * (tell the bot, disconnect as machine-detected, wait for the beep), and the auditor agreeing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accepts, decideAll, evolve, initialSnapshot, nextWakeUp, stateOf, type CallSnapshot } from '../../machines/decide.ts';
import type { CallEvent, CallEventDataMap, CallEventType } from '../../src/domain/events.ts';
import { verifyCall } from '../../src/audit/verify.ts';
import { AMD } from '../../src/domain/amd.ts';

const T0 = Date.UTC(2026, 11, 6, 13, 0, 0);
const ev = <T extends CallEventType>(type: T, data: CallEventDataMap[T], at: number) => ({ type, data, callId: 'amd-1', at }) as CallEvent;

/** Runs inputs through the machine like the actor does, recording the decisions. */
function run(inputs: CallEvent[], until?: number): { events: CallEvent[]; s: CallSnapshot } {
  let s = initialSnapshot();
  const events: CallEvent[] = [];
  const decideAt = (t: number) => {
    const r = decideAll(s, t, 'amd-1');
    for (const d of r.decisions) events.push({ ...d, callId: 'amd-1', at: t } as CallEvent);
    s = r.snapshot;
  };
  for (const e of inputs) {
    decideAt(e.at);
    if (!accepts(s, e)) continue;
    s = evolve(s, e);
    events.push(e);
    decideAt(e.at);
  }
  if (until !== undefined) {
    for (let wake = nextWakeUp(s); wake !== undefined && wake <= until; wake = nextWakeUp(s)) decideAt(wake);
  }
  return { events, s };
}

const outbound = (policy?: 'detect' | 'disconnect' | 'detect-beep') => [
  ev('CallOffered', { direction: 'outbound', from: 'voxledger', to: 'sip:bob@b', sipCallId: '', botId: 'demo', ringTimeoutMs: 30_000 }, T0),
  ...(policy ? [ev('SessionParamsUpdated', { params: { machineDetection: policy }, source: 'request' }, T0)] : []),
  ev('CallAnswered', { sipStatus: 200 }, T0 + 2_000),
  ev('BotConversationStarted', { provider: 'scripted', conversationId: 'c', ref: {} }, T0 + 2_050),
];
const observed = (at: number, o: Partial<CallEventDataMap['AmdObserved']>) =>
  ev('AmdObserved', { initialSilenceMs: 300, greetingMs: 600, silenceAfterMs: 800, endedBy: 'silence-after-greeting', beepWaitMs: 0, ...o }, at);
const verdicts = (events: CallEvent[]) => events.filter((e) => e.type === 'AmdVerdictReached').map((e) => e.data);
const clean = (events: CallEvent[]) => assert.deepEqual(verifyCall(events).differences, [], 'the auditor agrees');

test('detect: a short greeting then silence is a human, told to the bot at once', () => {
  const { events } = run([...outbound('detect'), observed(T0 + 3_700, {})]);
  assert.deepEqual(verdicts(events), [{ result: 'human', reason: 'greeting of 600 ms, then 800 ms of silence', words: 0, greetingMs: 600, beep: false, policy: 'detect', action: 'tell-bot' }]);
  clean(events);
});

test('disconnect: a long greeting is a machine: BYE with the reason, CallEnded machine-detected by the system; a human is told to the bot', () => {
  const { events } = run([...outbound('disconnect'), observed(T0 + 4_900, { greetingMs: 2_540, endedBy: 'long-greeting', silenceAfterMs: 0 })]);
  const types = events.map((e) => e.type);
  assert.deepEqual(types.slice(-3), ['AmdVerdictReached', 'ByeSent', 'CallEnded']);
  const bye = events.find((e) => e.type === 'ByeSent')!;
  assert.deepEqual(bye.data, { reasonHeader: 'Q.850;cause=16;text="Answering machine detected"', headers: [], trigger: 'machine-detected', sttWaitMs: 0 });
  const end = events.at(-1)!;
  assert.ok(end.type === 'CallEnded');
  assert.deepEqual([end.data.reasonCode, end.data.reason, end.data.terminatedBy], ['machine-detected', 'Answering machine detected', 'system']);
  clean(events);
  const human = run([...outbound('disconnect'), observed(T0 + 3_700, {})]).events;
  assert.equal(verdicts(human)[0]!.action, 'tell-bot');
  assert.notEqual(human.at(-1)!.type, 'CallEnded');
});

test('words recognised during the greeting count: many words make a machine even with a short greeting', () => {
  const { events } = run([...outbound('detect'), ev('SttFinalReceived', { text: 'you have reached the voicemail of anna' }, T0 + 3_500), observed(T0 + 3_700, { greetingMs: 1_500 })]);
  assert.deepEqual(verdicts(events).map((v) => [v.result, v.words]), [['machine', 7]]);
  clean(events);
});

test('detect-beep: a machine waits for its beep, then the bot is told (beep: true); with no beep, at the stored beep wait', () => {
  const inputs = [...outbound('detect-beep'), observed(T0 + 4_900, { greetingMs: 2_600, endedBy: 'long-greeting', beepWaitMs: AMD.beepWaitMs })];
  const waiting = run(inputs);
  assert.deepEqual(verdicts(waiting.events), [], 'no verdict before the beep');
  assert.equal(nextWakeUp(waiting.s), T0 + 4_900 + AMD.beepWaitMs);
  const beeped = run([...inputs, ev('AmdBeepDetected', { atMs: 6_100, freqHz: 1000, durationMs: 120 }, T0 + 8_220)]);
  assert.deepEqual(verdicts(beeped.events).map((v) => [v.result, v.reason, v.beep, v.action]), [['machine', 'beep', true, 'tell-bot']]);
  assert.equal(beeped.events.at(-1)!.at, T0 + 8_220);
  clean(beeped.events);
  const silent = run(inputs, T0 + 60_000);
  const [late] = silent.events.filter((e) => e.type === 'AmdVerdictReached');
  assert.ok(late && late.at === T0 + 4_900 + AMD.beepWaitMs, 'at the beep wait, not before');
  assert.deepEqual([late.data.result, late.data.beep], ['machine', false]);
  clean(silent.events);
});

test('not armed: inbound calls and outbound calls without a policy refuse the detector\'s facts; a second observation or a fact after the verdict is refused', () => {
  const none = run([...outbound(), observed(T0 + 3_700, {})]);
  assert.equal(none.events.some((e) => e.type.startsWith('Amd')), false);
  const armed = run([...outbound('detect'), observed(T0 + 3_700, {})]).s;
  assert.equal(accepts(armed, observed(T0 + 3_800, {})), false);
  assert.equal(accepts(armed, ev('AmdBeepDetected', { atMs: 1, freqHz: 1000, durationMs: 120 }, T0 + 3_900)), false);
  assert.equal(stateOf(armed), 'active');
});
