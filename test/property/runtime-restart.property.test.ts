/**
 * (d) Restart: cut a run anywhere between steps, let a new node rebuild the call's actor from its
 * stream (`CallRuntime.resume` → `CallActor.rehydrate`, a second runtime over the same store, on a
 * clock at the same time, the SIP dialog alive), carry on with the rest of the steps: the outcome
 * is the one without the restart (same history, same decisions, same CallEnded, the BYE at the
 * same time). A pending STT deadline survives the restart.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { scenarioArb, type Scenario, type Step } from './support/arbitraries.ts';
import { CallDriver } from './support/call-driver.ts';
import { Rig } from './support/rig.ts';
import { cdrOf, facts } from './support/replay.ts';
import { fcParams, runsOf } from './support/fc-params.ts';
import { nextWakeUp } from '../../machines/decide.ts';
import type { CallEventDataMap } from '../../src/domain/events.ts';

const RUNS = 250;
const STT_RUNS = 300;

/** Plays a scenario, restarting the node before each step index in `cuts`. */
async function play(scenario: Scenario, cuts: number[]) {
  const rig = await Rig.create({ defaults: scenario.defaults, failStart: scenario.failStart, ...(scenario.answer ? { answer: scenario.answer } : {}) });
  const driver = await CallDriver.start(rig, scenario);
  for (let i = 0; i <= scenario.steps.length; i++) {
    for (const c of cuts) if (c === i) await driver.restart();
    const step = scenario.steps[i];
    if (step) await driver.step(step);
  }
  await driver.finish();
  const events = await driver.verify({ model: false }); // the model is the invariants property's concern
  const norm = (s: string) => s.split(driver.callId).join('<call>');
  return {
    facts: facts(events, norm),
    cdr: norm(JSON.stringify(cdrOf(events))),
    wire: rig.wireFor(driver.callId).map((w) => ({ ...w, callId: '<call>' })),
    restarts: rig.restarts,
  };
}

const withCuts = scenarioArb().chain((scenario) =>
  fc.record({ scenario: fc.constant(scenario), cuts: fc.array(fc.integer({ min: 0, max: scenario.steps.length }), { minLength: 1, maxLength: 2 }) }),
);

describe('restart: a new node rebuilds the call from its stream and carries on (in-process signaling, simulated clock)', () => {
  it(`the outcome equals the run without restart (${runsOf(RUNS)} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(withCuts, async ({ scenario, cuts }) => {
        const straight = await play(scenario, []);
        const restarted = await play(scenario, cuts);
        assert.ok(restarted.restarts >= 1);
        assert.deepEqual(restarted.facts, straight.facts, 'same history: inputs, decisions, times, CallEnded');
        assert.deepEqual(restarted.wire, straight.wire, 'the same BYEs on the wire at the same times');
        assert.equal(restarted.cdr, straight.cdr, 'the same CDR');
      }),
      fcParams(RUNS),
    );
  });

  it(`a pending STT deadline survives the restart (${runsOf(STT_RUNS)} runs)`, async () => {
    const arb = fc
      .record({
        delayMs: fc.integer({ min: 1, max: 10_000 }),
        downAtFraction: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        finalAfterMs: fc.option(fc.integer({ min: 0, max: 12_000 }), { nil: undefined }),
        source: fc.constantFrom('config', 'activity'),
      })
      .map((r) => ({ ...r, downAfterMs: Math.floor(r.delayMs * r.downAtFraction) }));
    await fc.assert(
      fc.asyncProperty(arb, async ({ delayMs, downAfterMs, finalAfterMs, source }) => {
        const defaults = source === 'config' ? { delayBotDisconnectMs: delayMs } : {};
        const rig = await Rig.create({ defaults });
        const driver = await CallDriver.start(rig, { direction: 'inbound', defaults, failStart: false, cancelAtOffer: false, ringTimeoutMs: 0, steps: [] });
        const activityParams = source === 'activity' ? { hangupReason: 'bye', delayBotDisconnectMs: delayMs } : { hangupReason: 'bye' };
        await driver.step({ kind: 'sttStarted' });
        await driver.step({ kind: 'bot', deliveries: [[{ withId: true, activity: { type: 'event', name: 'hangup', activityParams } }]] });
        const t = rig.clock.now();
        const early = finalAfterMs !== undefined && finalAfterMs < downAfterMs;
        const rest: Step[] = [];
        if (early) {
          await driver.step({ kind: 'advance', ms: finalAfterMs });
          await driver.step({ kind: 'sttFinal', text: 'words' });
          await driver.step({ kind: 'advance', ms: downAfterMs - finalAfterMs });
        } else {
          await driver.step({ kind: 'advance', ms: downAfterMs });
        }
        await driver.verify();
        const stillWaiting = !early;
        await driver.restart();
        if (stillWaiting) {
          const actor = rig.runtime.actor(driver.callId);
          assert.ok(actor, 'the new node runs the call');
          assert.equal(actor.state, 'awaitingSttFinal');
          assert.equal(nextWakeUp(actor.snapshot), t + delayMs, 'the deadline comes from the stream');
          assert.ok(rig.clock.pendingTimers() >= 1, 'the new node armed its clock');
          if (finalAfterMs !== undefined) rest.push({ kind: 'advance', ms: finalAfterMs - downAfterMs }, { kind: 'sttFinal', text: 'words' });
        }
        for (const s of rest) await driver.step(s);
        await driver.finish();
        const events = await driver.verify();
        const bye = events.find((e) => e.type === 'ByeSent');
        assert.ok(bye);
        const data = bye.data as CallEventDataMap['ByeSent'];
        const expectedAt = finalAfterMs !== undefined && finalAfterMs < delayMs ? t + finalAfterMs : t + delayMs;
        assert.deepEqual({ at: bye.at, trigger: data.trigger, sttWaitMs: data.sttWaitMs }, {
          at: expectedAt,
          trigger: expectedAt === t + delayMs && !(finalAfterMs !== undefined && finalAfterMs < delayMs) ? 'deadline' : 'stt-final',
          sttWaitMs: expectedAt - t,
        });
        assert.deepEqual(rig.wireFor(driver.callId).map((w) => [w.side, w.at]), [['runtime', expectedAt]]);
      }),
      fcParams(STT_RUNS),
    );
  });
});
