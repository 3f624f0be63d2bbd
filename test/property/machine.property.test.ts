/**
 * Machine-level properties (pure, thousands of runs): any input history fed to the call machine
 * the way the actor feeds it keeps the history rules (checkCallHistory: one CallEnded, last; at
 * most one ByeSent, never after ByeReceived; the STT wait; who ended the call), always reaches an
 * end once a hangup, BYE, CANCEL, failure or error is taken, takes nothing after CallEnded, is a
 * pure function of its stream (fold at any point = the live snapshot; a rebuild mid-way changes
 * nothing), decides level-triggered (nothing falls due between wake-ups), and replays.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { accepts, decide, fold, nextWakeUp, stateOf, type CallSnapshot } from '../../machines/decide.ts';
import { INPUT_EVENTS, type CallEvent, type CallEventDataMap } from '../../src/domain/events.ts';
import { checkCallHistory } from './support/invariants.ts';
import { historyArb, inputSpecArb, materialise, simulate, SIM_T0, type History, type TimedSpec } from './support/machine-sim.ts';
import { cdrOf, facts, replayInputs } from './support/replay.ts';
import { fcParams, runsOf } from './support/fc-params.ts';

const RUNS = 3_000;

const comparable = (s: CallSnapshot) => ({ value: s.value, status: s.status, context: s.context });
const TERMINAL = new Set(['ByeReceived', 'CancelReceived', 'OutboundCallFailed', 'BotHangupRequested', 'CallErrored', 'BotStartFailed']);

describe('call machine properties (pure, fast-check)', () => {
  it(`any history keeps the rules, and every call that was asked to end ends (${runsOf(RUNS)} runs)`, () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const { stream, snapshot, refused } = simulate(history);
        checkCallHistory(stream, { offerFirst: history.inputs[0]?.input.type === 'CallOffered' });
        const state = stateOf(snapshot);
        assert.ok(!['byeDue', 'ending', 'awaitingSttFinal'].includes(state), `time ran out in ${state}`);
        if (stream.some((e) => TERMINAL.has(e.type))) assert.equal(state, 'ended', 'a taken hangup, BYE, CANCEL, failure or error ends the call');
        if (state === 'ended') {
          // Nothing is taken after CallEnded (the refused inputs of this history, tried again on the end state).
          for (const e of [...refused, ...stream.filter((x) => INPUT_EVENTS.has(x.type))]) assert.equal(accepts(snapshot, e), false, `${e.type} taken after CallEnded`);
        }
        for (const e of refused) assert.ok(INPUT_EVENTS.has(e.type), 'only inputs are offered');
      }),
      fcParams(RUNS),
    );
  });

  it(`the snapshot is a function of the stream: fold at every point equals the live snapshot; a rebuild changes nothing (${runsOf(RUNS)} runs)`, () => {
    fc.assert(
      fc.property(
        historyArb.chain((h) => fc.record({ history: fc.constant(h), cuts: fc.uniqueArray(fc.nat(Math.max(0, h.inputs.length - 1)), { maxLength: 3 }) })),
        ({ history, cuts }) => {
          const straight = simulate(history);
          for (const cp of straight.checkpoints) {
            const rebuilt = fold(straight.stream.slice(0, cp.length));
            if (!isDeepStrictEqual(comparable(rebuilt), comparable(cp.snapshot))) {
              assert.deepEqual(comparable(rebuilt), comparable(cp.snapshot), `fold of the first ${cp.length} events`);
            }
          }
          const restarted = simulate(history, { rebuildAfter: cuts });
          assert.deepEqual(facts(restarted.stream), facts(straight.stream));
        },
      ),
      fcParams(RUNS),
    );
  });

  it(`decisions are level-triggered: nothing falls due between wake-ups, something does at each (${runsOf(RUNS)} runs)`, () => {
    fc.assert(
      fc.property(historyArb, fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 4 }), (history, probes) => {
        const { checkpoints } = simulate(history);
        for (const { at, snapshot } of checkpoints) {
          assert.equal(decide(snapshot, at), undefined, `nothing left to decide at ${stateOf(snapshot)} after deciding`);
          const w = nextWakeUp(snapshot);
          if (w === undefined) {
            assert.equal(decide(snapshot, at + 10_000_000), undefined, `no wake-up in ${stateOf(snapshot)}, so time alone decides nothing`);
            continue;
          }
          assert.ok(w > at, 'a wake-up lies in the future');
          for (const p of probes) assert.equal(decide(snapshot, at + Math.floor(p * (w - at))), undefined, 'nothing before the wake-up');
          assert.notEqual(decide(snapshot, w), undefined, 'something at the wake-up');
          assert.notEqual(decide(snapshot, w + 1 + Math.floor(probes[0]! * 100_000)), undefined, 'and still after it (a late timer)');
        }
      }),
      fcParams(RUNS),
    );
  });

  it(`the auditor's replay of a history's inputs writes the same history and CDR (${runsOf(RUNS)} runs)`, () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const { stream, end } = simulate(history);
        const replayed = replayInputs(stream, end);
        assert.deepEqual(facts(replayed.events), facts(stream));
        assert.deepEqual(cdrOf(replayed.events), cdrOf(stream));
      }),
      fcParams(RUNS),
    );
  });

  it(`STT wait: BYE at min(final, t+D) while recognising, at t otherwise, whatever else happens meanwhile (${runsOf(RUNS)} runs)`, () => {
    const noise = inputSpecArb.filter((i) => ['SessionParamsUpdated', 'BotInputRejected', 'SttStarted', 'BotConversationStarted', 'CallAnswered'].includes(i.type));
    fc.assert(
      fc.property(
        fc.record({
          recognising: fc.boolean(),
          delayMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 10_000 })),
          finalAfterMs: fc.option(fc.integer({ min: 0, max: 12_000 }), { nil: undefined }),
          noise: fc.array(fc.record({ dt: fc.integer({ min: 0, max: 3_000 }), input: noise }), { maxLength: 5 }),
        }),
        ({ recognising, delayMs, finalAfterMs, noise }) => {
          const inputs: TimedSpec[] = [
            { dt: 0, input: { type: 'CallOffered', data: { direction: 'inbound', from: 'a', to: 'b', sipCallId: 's', botId: 'demo' } } },
            { dt: 10, input: { type: 'CallAnswered', data: { sipStatus: 200 } } },
            { dt: 10, input: { type: 'BotConversationStarted', data: { provider: 'p', conversationId: 'c', ref: {} } } },
          ];
          if (recognising) inputs.push({ dt: 10, input: { type: 'SttStarted', data: {} } });
          inputs.push({ dt: 100, input: { type: 'BotHangupRequested', delayMs, headers: [], hangupReason: 'bye' } });
          // Noise after the hangup (params, rejections, a second SttStarted): none of it moves the BYE.
          const after = [...noise];
          if (finalAfterMs !== undefined) {
            let t = 0;
            const marks = after.map((n) => (t += n.dt));
            const idx = marks.findIndex((m) => m > finalAfterMs);
            const before = idx < 0 ? t : marks[idx - 1] ?? 0;
            const final: TimedSpec = { dt: finalAfterMs - before, input: { type: 'SttFinalReceived', data: { text: 'last words' } } };
            if (idx < 0) after.push(final);
            else {
              after.splice(idx, 0, final);
              after[idx + 1] = { ...after[idx + 1]!, dt: marks[idx]! - finalAfterMs };
            }
          }
          const history: History = { inputs: [...inputs, ...after] };
          const { stream } = simulate(history);
          checkCallHistory(stream, { ended: true });
          const hangup = stream.find((e) => e.type === 'BotHangupRequested')!;
          const bye = stream.find((e) => e.type === 'ByeSent')!;
          const t = hangup.at;
          const data = bye.data as CallEventDataMap['ByeSent'];
          const waits = recognising && delayMs > 0;
          const expectedAt = !waits ? t : finalAfterMs !== undefined && finalAfterMs < delayMs ? t + finalAfterMs : t + delayMs;
          const trigger = !waits ? 'immediate' : expectedAt < t + delayMs || (finalAfterMs !== undefined && finalAfterMs < delayMs) ? 'stt-final' : 'deadline';
          assert.deepEqual({ at: bye.at, trigger: data.trigger, sttWaitMs: data.sttWaitMs }, { at: expectedAt, trigger, sttWaitMs: expectedAt - t });
          assert.ok(bye.at >= t && bye.at <= t + delayMs);
        },
      ),
      fcParams(RUNS),
    );
  });

  it('the simulator and the generators are sane (a fixed history)', () => {
    const h: History = {
      inputs: [
        { dt: 0, input: { type: 'CallOffered', data: { direction: 'inbound', from: 'a', to: 'b', sipCallId: 's', botId: 'demo' } } },
        { dt: 10, input: { type: 'CallAnswered', data: { sipStatus: 200 } } },
        { dt: 5, input: { type: 'SttStarted', data: {} } },
        { dt: 5, input: { type: 'BotHangupRequested', delayMs: 1_000, headers: [] } },
      ],
    };
    const { stream } = simulate(h);
    assert.deepEqual(stream.map((e) => `${e.type}@${e.at - SIM_T0}`), ['CallOffered@0', 'CallAnswered@10', 'SttStarted@15', 'BotHangupRequested@20', 'ByeSent@1020', 'CallEnded@1020']);
    assert.equal(materialise({ type: 'BotHangupRequested', delayMs: 5, headers: [] }, 0).type, 'BotHangupRequested');
    const sample = fc.sample(historyArb, { numRuns: 50, seed: 42 }) as History[];
    assert.ok(sample.some((x) => simulate(x).stream.some((e: CallEvent) => e.type === 'ByeSent')), 'the generator reaches BYEs');
  });
});
