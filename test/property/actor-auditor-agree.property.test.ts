/**
 * One decision loop: the runtime's CallActor and the auditor's `verifyCall` (src/audit/verify.ts)
 * both decide through `decideAll` (machines/decide.ts). For any history the actor writes — on a
 * simulated clock, and over a store whose appends take time while the caller's BYE, the bot and
 * the clock race it (fc.scheduler), and across node restarts — the auditor re-derives exactly the decisions recorded: no
 * difference, and as many decisions as the stream holds.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { scenarioArb } from './support/arbitraries.ts';
import { CallDriver } from './support/call-driver.ts';
import { Rig } from './support/rig.ts';
import { drain, scheduledStore, stimulus } from './support/scheduled-store.ts';
import { fcParams, runsOf } from './support/fc-params.ts';
import { verifyCall } from '../../src/audit/verify.ts';
import { DECISION_EVENTS, type CallEvent, type DomainEvent } from '../../src/domain/events.ts';
import { isCallEvent } from '../../src/store/envelope.ts';

function assertAuditorAgrees(recorded: DomainEvent[]): void {
  const events = recorded.filter(isCallEvent) as CallEvent[];
  const { differences, decisions } = verifyCall(events);
  const story = events.map((e) => `${e.type}@${e.at}`).join(' ');
  assert.deepEqual(differences, [], `the auditor re-derives the actor's decisions: ${story}`);
  assert.equal(decisions, events.filter((e) => DECISION_EVENTS.has(e.type)).length, 'every recorded decision was checked');
}

const RUNS = 200;

describe('the actor and the auditor decide through one loop (decideAll)', () => {
  it(`scenario histories on a simulated clock, with node restarts (takeover), verify with no difference (${runsOf(RUNS)} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb(), fc.uniqueArray(fc.nat(30), { maxLength: 2 }), async (scenario, cuts) => {
        const rig = await Rig.create({ defaults: scenario.defaults, failStart: scenario.failStart, ...(scenario.answer ? { answer: scenario.answer } : {}) });
        const driver = await CallDriver.start(rig, scenario);
        for (const [i, step] of scenario.steps.entries()) {
          if (cuts.includes(i)) await driver.restart(); // a new node rebuilds the call from its stream
          await driver.step(step);
        }
        await driver.finish();
        assertAuditorAgrees(await driver.verify({ model: false }));
      }),
      fcParams(RUNS),
    );
  });

  it(`histories written while appends, the caller's BYE, the bot and the clock race verify with no difference (${runsOf(RUNS)} runs)`, async () => {
    const stimulusArb = fc.oneof(
      fc.record({ kind: fc.constant('hangup' as const), delayMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5_000 })) }),
      fc.record({ kind: fc.constant('config' as const), result: fc.constantFrom('success', 'failure') }),
      fc.record({ kind: fc.constant('sttStarted' as const) }),
      fc.record({ kind: fc.constant('sttFinal' as const) }),
      fc.record({ kind: fc.constant('peerBye' as const) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 6_000 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(stimulusArb, { minLength: 1, maxLength: 6 }), async (s, stimuli) => {
        const rig = await Rig.create({ wrapStore: (inner) => scheduledStore(s, inner) });
        const callId = rig.sip.peer.offer({ to: '1000' });
        await drain(s, rig);
        const jobs = stimuli.map((st, i) =>
          stimulus(s, `${i}:${st.kind}`, () => {
            switch (st.kind) {
              case 'hangup':
                rig.runtime.botActivities(callId, [{ id: `h-${i}`, type: 'event', name: 'hangup', activityParams: { hangupReason: 'bye', delayBotDisconnectMs: st.delayMs } }]);
                break;
              case 'config':
                rig.runtime.botActivities(callId, [{ id: `c-${i}`, type: 'event', name: 'config', sessionParams: { botOperationResult: st.result } }]);
                break;
              case 'sttStarted':
                rig.runtime.sttStarted(callId);
                break;
              case 'sttFinal':
                rig.runtime.sttFinal(callId, 'last words');
                break;
              case 'peerBye':
                rig.peerBye(callId);
                break;
              case 'advance':
                void rig.advanceTo(rig.clock.now() + st.ms);
                break;
            }
          }),
        );
        await drain(s, rig);
        await Promise.all(jobs);
        await rig.advanceTo(rig.clock.now() + 12_000);
        await drain(s, rig);
        if (rig.runtime.actor(callId)) {
          rig.peerBye(callId);
          await drain(s, rig);
        }
        assertAuditorAgrees(await rig.events(callId));
      }),
      fcParams(RUNS),
    );
  });
});
