/**
 * fast-check: answering-machine detection under any interleaving of the detector's facts
 * (observations of a human, a machine, silence; beeps), recognised words, the bot's hangup, the
 * callee's BYE and time, for each policy, through the real runtime (in-process signaling,
 * simulated clock):
 * - exactly one CallEnded, last; at most one verdict, never before an observation;
 * - `machine-detected` only under policy disconnect, after a machine verdict, with our BYE
 *   carrying the machine reason, ended by the system; never also bot- or client-disconnected;
 * - detect-beep: a machine's verdict only with the beep heard or at its stored beep wait;
 * - every tell-bot verdict reaches the bot once; `replay --verify` finds no difference.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { makeHarness } from '../support/harness.ts';
import { verifyCall } from '../../src/audit/verify.ts';
import type { CallEvent } from '../../src/domain/events.ts';
import type { AmdObservation } from '../../src/domain/amd.ts';
import { fcParams } from './support/fc-params.ts';

type Step =
  | { kind: 'observe'; o: Omit<AmdObservation, 'beepWaitMs'> }
  | { kind: 'beep' }
  | { kind: 'words'; text: string }
  | { kind: 'hangup' }
  | { kind: 'peerBye' }
  | { kind: 'wait'; ms: number };

const OBSERVATIONS: Array<Omit<AmdObservation, 'beepWaitMs'>> = [
  { initialSilenceMs: 300, greetingMs: 600, silenceAfterMs: 800, endedBy: 'silence-after-greeting' },
  { initialSilenceMs: 400, greetingMs: 2_540, silenceAfterMs: 0, endedBy: 'long-greeting' },
  { initialSilenceMs: 4_500, greetingMs: 0, silenceAfterMs: 4_500, endedBy: 'initial-silence' },
  { initialSilenceMs: 500, greetingMs: 0, silenceAfterMs: 500, endedBy: 'beep' },
];
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...OBSERVATIONS).map((o) => ({ kind: 'observe' as const, o })) },
  { weight: 2, arbitrary: fc.constant({ kind: 'beep' as const }) },
  { weight: 2, arbitrary: fc.constantFrom('hello', 'you have reached the voicemail of anna smith').map((text) => ({ kind: 'words' as const, text })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'hangup' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'peerBye' as const }) },
  { weight: 3, arbitrary: fc.constantFrom(10, 500, 5_000, 16_000).map((ms) => ({ kind: 'wait' as const, ms })) },
);

describe('machine detection ordering (fast-check, runtime with in-process signaling)', () => {
  it('one CallEnded, one verdict after an observation, machine-detected only by policy disconnect, the auditor agrees (300 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('detect' as const, 'disconnect' as const, 'detect-beep' as const), fc.array(stepArb, { minLength: 1, maxLength: 10 }), async (policy, steps) => {
        const h = await makeHarness();
        h.sip.onDial = (req) => queueMicrotask(() => h.sip.peer.answer(req.callId));
        const callId = await h.runtime.placeCall({ botId: 'demo', to: 'sip:callee@in-process', sessionParams: { machineDetection: policy } });
        await h.advance(20);
        let n = 0;
        for (const s of steps) {
          switch (s.kind) {
            case 'observe':
              h.runtime.machineObserved(callId, { ...s.o, beepWaitMs: policy === 'detect-beep' ? 15_000 : 0 });
              break;
            case 'beep':
              h.runtime.machineBeep(callId, { atMs: 6_000, freqHz: 1000, durationMs: 120 });
              break;
            case 'words':
              h.runtime.sttFinal(callId, s.text);
              break;
            case 'hangup':
              h.runtime.botActivities(callId, [{ id: `h${++n}`, type: 'event', name: 'hangup' }]);
              break;
            case 'peerBye':
              h.sip.peer.bye(callId);
              break;
            case 'wait':
              await h.advance(s.ms, Math.min(s.ms, 500));
              break;
          }
          await h.settle();
        }
        await h.advance(20_000, 1_000);
        if (h.sip.peer.state(callId) === 'confirmed') h.sip.peer.bye(callId);
        await h.advance(100);

        const events = (await h.events(callId)) as CallEvent[];
        const types = events.map((e) => e.type);
        assert.equal(types.filter((t) => t === 'CallEnded').length, 1, 'exactly one CallEnded');
        assert.equal(types.at(-1), 'CallEnded');
        const verdicts = events.filter((e): e is Extract<CallEvent, { type: 'AmdVerdictReached' }> => e.type === 'AmdVerdictReached');
        assert.ok(verdicts.length <= 1, 'at most one verdict');
        const observedAt = types.indexOf('AmdObserved');
        if (verdicts.length) assert.ok(observedAt >= 0 && observedAt < types.indexOf('AmdVerdictReached'), 'the verdict follows an observation');
        const end = events.at(-1) as Extract<CallEvent, { type: 'CallEnded' }>;
        if (end.data.reasonCode === 'machine-detected') {
          assert.equal(policy, 'disconnect');
          assert.deepEqual([verdicts[0]?.data.result, verdicts[0]?.data.action, end.data.terminatedBy], ['machine', 'disconnect', 'system']);
          const bye = events.find((e) => e.type === 'ByeSent');
          assert.ok(bye?.type === 'ByeSent' && bye.data.trigger === 'machine-detected');
        }
        const v = verdicts[0];
        if (v && policy === 'detect-beep' && v.data.result === 'machine' && !v.data.beep) {
          const obs = events[observedAt]!;
          assert.ok(obs.type === 'AmdObserved' && (v.at >= obs.at + obs.data.beepWaitMs || obs.data.endedBy === 'beep'), 'a beepless machine verdict only at the beep wait');
        }
        await h.settle();
        const told = (h.bot.events.get(`scripted-${callId}`) ?? []).filter((e) => e.name === 'machineDetection');
        assert.equal(told.length, verdicts.filter((x) => x.data.action === 'tell-bot').length, 'every tell-bot verdict reaches the bot once');
        assert.deepEqual(verifyCall(events).differences, [], 'replay --verify agrees');
      }),
      fcParams(300),
    );
  });
});
