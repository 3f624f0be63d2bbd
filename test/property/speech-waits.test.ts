/**
 * The BYE's two waits, pure: the STT wait (README "STT delay") and the goodbye wait (a prompt
 * playing when the bot hangs up holds the BYE until it ends, at most until the hangup's
 * playbackDeadline). Stories with every decision and its data, then a fast-check property over
 * any interleaving of speech facts: the BYE never goes while a wait is still open before its
 * deadline, and never after the later deadline.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decideAll, evolve, initialSnapshot, nextWakeUp, stateOf, type CallSnapshot, type Decision } from '../../machines/decide.ts';
import type { CallEvent, CallEventDataMap, CallEventType } from '../../src/domain/events.ts';
import { iso } from '../../src/domain/clock.ts';

const CALL = 'speech-call';
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const ev = <T extends CallEventType>(type: T, data: CallEventDataMap[T], at: number) => ({ type, data, callId: CALL, at }) as CallEvent;
const START: CallEvent[] = [
  ev('CallOffered', { direction: 'inbound', from: 'a', to: '1', sipCallId: 's', botId: 'b' }, T0),
  ev('CallAnswered', { sipStatus: 200 }, T0 + 10),
  ev('BotConversationStarted', { provider: 'scripted', conversationId: 'c', ref: {} }, T0 + 20),
];
const hangup = (at: number, delayMs: number, goodbyeMaxMs?: number) =>
  ev('BotHangupRequested', { hangupReason: 'bye', hangupSipHeaders: [], delayMs, deadline: iso(at + delayMs), ...(goodbyeMaxMs === undefined ? {} : { playbackDeadline: iso(at + goodbyeMaxMs) }) }, at);

/** Feeds events in order, running the decision loop at each event's time and at every wake-up in between. */
function run(events: CallEvent[], until = T0 + 60_000): Array<Decision & { at: number }> {
  let s: CallSnapshot = initialSnapshot();
  const out: Array<Decision & { at: number }> = [];
  const step = (now: number) => {
    const r = decideAll(s, now, CALL);
    for (const d of r.decisions) out.push({ ...d, at: now });
    s = r.snapshot;
  };
  for (const e of [...events].sort((a, b) => a.at - b.at)) {
    for (let w = nextWakeUp(s); w !== undefined && w <= e.at; w = nextWakeUp(s)) step(w);
    if (stateOf(s) === 'ended') break;
    s = evolve(s, e);
    step(e.at);
  }
  for (let w = nextWakeUp(s); w !== undefined && w <= until; w = nextWakeUp(s)) step(w);
  return out;
}

const bye = (ds: Array<Decision & { at: number }>) => {
  const b = ds.find((d) => d.type === 'ByeSent');
  return b && b.type === 'ByeSent' ? { at: b.at - T0, trigger: b.data.trigger, sttWaitMs: b.data.sttWaitMs } : undefined;
};

describe('speech waits before the BYE (pure machine)', () => {
  it('a goodbye playing when the bot hangs up: the BYE goes when it has played', () => {
    const ds = run([...START, ev('PlaybackStarted', { playbackId: 'g', text: 'Goodbye.' }, T0 + 100), hangup(T0 + 110, 0, 8_000), ev('PlaybackFinished', { playbackId: 'g', outcome: 'played' }, T0 + 1_900)]);
    assert.deepEqual(bye(ds), { at: 1_900, trigger: 'playback-finished', sttWaitMs: 0 });
    assert.equal(ds.at(-1)?.type, 'CallEnded');
  });

  it('a goodbye longer than goodbyeMaxMs: the BYE at the playback deadline, not before', () => {
    const ds = run([...START, ev('PlaybackStarted', { playbackId: 'g', text: 'A long goodbye.' }, T0 + 100), hangup(T0 + 110, 0, 3_000)]);
    assert.deepEqual(bye(ds), { at: 3_110, trigger: 'deadline', sttWaitMs: 0 });
  });

  it('no playbackDeadline on the request (a call that does not speak): no goodbye wait', () => {
    const ds = run([...START, ev('PlaybackStarted', { playbackId: 'g', text: 'x' }, T0 + 100), hangup(T0 + 110, 0)]);
    assert.deepEqual(bye(ds), { at: 110, trigger: 'immediate', sttWaitMs: 0 });
  });

  it('a prompt already finished: no wait', () => {
    const ds = run([...START, ev('PlaybackStarted', { playbackId: 'g', text: 'x' }, T0 + 100), ev('PlaybackFinished', { playbackId: 'g', outcome: 'cancelled' }, T0 + 105), hangup(T0 + 110, 0, 8_000)]);
    assert.deepEqual(bye(ds), { at: 110, trigger: 'immediate', sttWaitMs: 0 });
  });

  it('two prompts playing: the BYE waits for the last', () => {
    const ds = run([
      ...START, ev('PlaybackStarted', { playbackId: 'a', text: 'x' }, T0 + 100), ev('PlaybackStarted', { playbackId: 'b', text: 'y' }, T0 + 101),
      hangup(T0 + 110, 0, 8_000), ev('PlaybackFinished', { playbackId: 'a', outcome: 'played' }, T0 + 900), ev('PlaybackFinished', { playbackId: 'b', outcome: 'played' }, T0 + 1_500),
    ]);
    assert.deepEqual(bye(ds), { at: 1_500, trigger: 'playback-finished', sttWaitMs: 0 });
  });

  it('the recognizer fails during the STT wait: the BYE at once (stt-failed)', () => {
    const ds = run([...START, ev('SttStarted', {}, T0 + 100), hangup(T0 + 110, 3_000), ev('SttFailed', { code: 'VOX_SPEECH_ENGINE', message: 'died' }, T0 + 600)]);
    assert.deepEqual(bye(ds), { at: 600, trigger: 'stt-failed', sttWaitMs: 490 });
  });

  it('caller speaking and a goodbye playing: STT final first, then the goodbye\'s end', () => {
    const ds = run([
      ...START, ev('PlaybackStarted', { playbackId: 'g', text: 'x' }, T0 + 100), ev('SttStarted', {}, T0 + 105), hangup(T0 + 110, 3_000, 8_000),
      ev('SttFinalReceived', { text: 'thanks', confidence: 1 }, T0 + 800), ev('PlaybackFinished', { playbackId: 'g', outcome: 'played' }, T0 + 2_000),
    ]);
    assert.deepEqual(bye(ds), { at: 2_000, trigger: 'playback-finished', sttWaitMs: 1_890 });
  });

  it('a goodbye ends while the caller still speaks: then the STT wait, up to its deadline', () => {
    const ds = run([
      ...START, ev('PlaybackStarted', { playbackId: 'g', text: 'x' }, T0 + 100), hangup(T0 + 110, 3_000, 8_000),
      ev('SttStarted', {}, T0 + 500), ev('PlaybackFinished', { playbackId: 'g', outcome: 'cancelled' }, T0 + 520), ev('SttFinalReceived', { text: 'wait', confidence: 1 }, T0 + 2_500),
    ]);
    assert.deepEqual(bye(ds), { at: 2_500, trigger: 'stt-final', sttWaitMs: 2_390 });
  });

  it('property: under any interleaving the BYE goes once, never while a wait is open before its deadline, never after the later deadline', () => {
    const fact = fc.record({
      kind: fc.constantFrom('stt-start', 'stt-final', 'stt-failed', 'pb-start', 'pb-end'),
      at: fc.integer({ min: 30, max: 12_000 }),
      id: fc.constantFrom('a', 'b', 'c'),
    });
    fc.assert(
      fc.property(fc.array(fact, { maxLength: 14 }), fc.integer({ min: 30, max: 6_000 }), fc.integer({ min: 0, max: 4_000 }), fc.integer({ min: 0, max: 6_000 }), (facts, hAt, delay, maxMs) => {
        const events: CallEvent[] = [...START];
        for (const f of facts) {
          const at = T0 + f.at;
          if (f.kind === 'stt-start') events.push(ev('SttStarted', {}, at));
          else if (f.kind === 'stt-final') events.push(ev('SttFinalReceived', { text: 'x', confidence: 1 }, at));
          else if (f.kind === 'stt-failed') events.push(ev('SttFailed', { code: 'VOX_SPEECH_ENGINE', message: 'x' }, at));
          else if (f.kind === 'pb-start') events.push(ev('PlaybackStarted', { playbackId: f.id, text: 'x' }, at));
          else events.push(ev('PlaybackFinished', { playbackId: f.id, outcome: 'played' }, at));
        }
        const h = hangup(T0 + hAt, delay, maxMs);
        events.push(h);
        const ds = run(events);
        const byes = ds.filter((d) => d.type === 'ByeSent');
        assert.equal(byes.length, 1);
        const at = byes[0]!.at;
        assert.ok(at >= T0 + hAt, 'not before the request');
        assert.ok(at <= T0 + hAt + Math.max(delay, maxMs), `not after the later deadline (${at - T0 - hAt} > ${Math.max(delay, maxMs)})`);
        // the inputs up to the BYE's time, folded without decisions: the machine must not still be
        // inside a wait whose deadline is ahead (decide would not have released the BYE)
        let s = initialSnapshot();
        for (const e of [...events].sort((a, b) => a.at - b.at)) if (e.at <= at) s = evolve(s, e);
        const state = stateOf(s);
        assert.ok(!(state === 'awaitingSttFinal' && at < T0 + hAt + delay), `BYE at ${at - T0} while the STT wait was open`);
        assert.ok(!(state === 'awaitingPlayback' && at < T0 + hAt + maxMs), `BYE at ${at - T0} while the goodbye played`);
      }),
      { numRuns: 300 },
    );
  });
});
