/**
 * (c) The auditor's replay (README, The rules: Time and audit): for any history the runtime wrote, replaying only its
 * INPUT events through the pure machine (fold + decideAll at the recorded times, plus the
 * wake-ups at nextWakeUp between inputs) reproduces the same decision events, type and data, at
 * the same times and in the same places, and the same CDR. (The runtime runs on a simulated
 * clock whose timers fire on time; with late timers see auditHistory and runtime-races.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { scenarioArb } from './support/arbitraries.ts';
import { CallDriver } from './support/call-driver.ts';
import { Rig } from './support/rig.ts';
import { auditHistory, cdrOf, facts, replayInputs } from './support/replay.ts';
import { fcParams, runsOf } from './support/fc-params.ts';
import { DECISION_EVENTS, INPUT_EVENTS } from '../../src/domain/events.ts';
import { fold, stateOf } from '../../machines/decide.ts';
import type { CallEvent } from '../../src/domain/events.ts';

const RUNS = 300;

describe('replay: a recorded history\'s inputs through the pure machine reproduce its decisions (in-process signaling, simulated clock)', () => {
  it(`same decisions in the same places, same CDR (${runsOf(RUNS)} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb(), async (scenario) => {
        const rig = await Rig.create({ defaults: scenario.defaults, failStart: scenario.failStart, ...(scenario.answer ? { answer: scenario.answer } : {}) });
        const driver = await CallDriver.start(rig, scenario);
        for (const step of scenario.steps) await driver.step(step);
        await driver.finish();
        const recorded = await driver.verify({ model: false }); // the model is the invariants property's concern

        // Every event is an input or a decision; the catalogue's two sets split the stream.
        for (const e of recorded) assert.ok(INPUT_EVENTS.has(e.type as never) !== DECISION_EVENTS.has(e.type as never), `${e.type} is exactly one of input / decision`);

        const replayed = replayInputs(recorded, rig.clock.now());
        assert.deepEqual(facts(replayed.events), facts(recorded), 'the replay writes the recorded history');
        assert.equal(stateOf(replayed.snapshot), 'ended');
        assert.equal(stateOf(fold(recorded as CallEvent[])), 'ended', 'folding the stream ends where the call ended');
        assert.deepEqual(cdrOf(replayed.events), cdrOf(recorded), 'the same CDR');
        auditHistory(recorded); // and each decision is what the machine decides at its recorded time
      }),
      fcParams(RUNS),
    );
  });
});
