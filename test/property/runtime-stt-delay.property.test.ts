/**
 * (b) The STT wait (README, The rules: STT delay): a hangup at t with delay D while speech
 * recognition is in progress sends its BYE at the STT final if that comes before t+D, else at
 * t+D; never before t, never after t+D; at once when nothing is being recognised or D = 0. The
 * delay comes from the bot's config, from sessionParams, or from the hangup's activityParams;
 * time passes in irregular steps. Checked on the ByeSent event (time, trigger, sttWaitMs) and on
 * the BYE the wire saw, against a direct computation from the scenario.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Step } from './support/arbitraries.ts';
import { CallDriver } from './support/call-driver.ts';
import { Rig } from './support/rig.ts';
import { fcParams, runsOf } from './support/fc-params.ts';
import type { CallEventDataMap } from '../../src/domain/events.ts';

const RUNS = 400;

const sttScenario = fc.record({
  source: fc.constantFrom('config', 'session', 'activity'),
  delayMs: fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 6, arbitrary: fc.integer({ min: 1, max: 10_000 }) }),
  recognising: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  /** Recognition that finished before the hangup (then nothing is in progress unless it restarts). */
  earlierUtterance: fc.boolean(),
  beforeHangupMs: fc.integer({ min: 0, max: 3_000 }),
  /** When the STT final comes, after the hangup (none: the deadline decides). */
  finalAfterMs: fc.option(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 12_000 })), { nil: undefined }),
  /** How the clock moves: irregular chunks. */
  chunks: fc.array(fc.integer({ min: 37, max: 4_000 }), { minLength: 1, maxLength: 6 }),
  /** The caller hangs up this long after the hangup request (may race the wait). */
  callerByeAfterMs: fc.option(fc.integer({ min: 0, max: 12_000 }), { nil: undefined, freq: 4 }),
});

type SttScenario = typeof sttScenario extends fc.Arbitrary<infer T> ? T : never;

/** Advances by `ms` in the scenario's irregular chunks. */
function advanceSteps(ms: number, chunks: number[]): Step[] {
  const out: Step[] = [];
  let left = ms;
  for (let i = 0; left > 0; i++) {
    const c = Math.min(left, chunks[i % chunks.length]!);
    out.push({ kind: 'advance', ms: c });
    left -= c;
  }
  return out;
}

function stepsOf(sc: SttScenario): Step[] {
  const steps: Step[] = [];
  if (sc.source === 'session') steps.push({ kind: 'bot', deliveries: [[{ withId: true, activity: { type: 'event', name: 'config', sessionParams: { delayBotDisconnectMs: sc.delayMs } } }]] });
  if (sc.earlierUtterance) steps.push({ kind: 'sttStarted' }, { kind: 'advance', ms: 200 }, { kind: 'sttFinal', text: 'earlier words' });
  steps.push(...advanceSteps(sc.beforeHangupMs, sc.chunks));
  if (sc.recognising) steps.push({ kind: 'sttStarted' });
  const activityParams = sc.source === 'activity' ? { hangupReason: 'bye now', delayBotDisconnectMs: sc.delayMs } : { hangupReason: 'bye now' };
  steps.push({ kind: 'bot', deliveries: [[{ withId: true, activity: { type: 'event', name: 'hangup', activityParams } }]] });
  // After the hangup: the STT final and the caller's BYE at their offsets, time in chunks.
  const marks: Array<{ at: number; step: Step }> = [];
  if (sc.finalAfterMs !== undefined) marks.push({ at: sc.finalAfterMs, step: { kind: 'sttFinal', text: 'the last words' } });
  if (sc.callerByeAfterMs !== undefined) marks.push({ at: sc.callerByeAfterMs, step: { kind: 'callerBye' } });
  marks.sort((a, b) => a.at - b.at);
  let t = 0;
  for (const m of marks) {
    steps.push(...advanceSteps(m.at - t, sc.chunks), m.step);
    t = m.at;
  }
  steps.push(...advanceSteps(12_000, sc.chunks));
  return steps;
}

describe('STT delay: the BYE waits for the final result, never past the deadline (in-process signaling, simulated clock)', () => {
  it(`BYE at min(final, t+D) while recognising, at t otherwise (${runsOf(RUNS)} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(sttScenario, async (sc) => {
        const rig = await Rig.create({ defaults: sc.source === 'config' ? { delayBotDisconnectMs: sc.delayMs } : {} });
        const driver = await CallDriver.start(rig, { direction: 'inbound', defaults: {}, failStart: false, cancelAtOffer: false, ringTimeoutMs: 0, steps: [] });
        if (sc.source === 'config') driver.model.setParams({ delayBotDisconnectMs: sc.delayMs });
        for (const step of stepsOf(sc)) await driver.step(step);
        await driver.finish();
        const events = await driver.verify();

        // The expectation, computed directly from the scenario.
        const hangup = events.find((e) => e.type === 'BotHangupRequested');
        assert.ok(hangup, 'the hangup is recorded');
        const t = hangup.at;
        const D = sc.delayMs;
        const waits = sc.recognising && D > 0;
        let expected: { at: number; trigger: string; sttWaitMs: number } | undefined;
        if (!waits) expected = { at: t, trigger: 'immediate', sttWaitMs: 0 };
        else if (sc.finalAfterMs !== undefined && sc.finalAfterMs < D) expected = { at: t + sc.finalAfterMs, trigger: 'stt-final', sttWaitMs: sc.finalAfterMs };
        else expected = { at: t + D, trigger: 'deadline', sttWaitMs: D };
        // The caller may hang up first while we wait: then we send no BYE at all.
        const callerFirst = waits && sc.callerByeAfterMs !== undefined && sc.callerByeAfterMs < expected.sttWaitMs;
        const bye = events.find((e) => e.type === 'ByeSent');
        const ours = rig.wireFor(driver.callId).filter((w) => w.side === 'runtime');
        if (callerFirst) {
          assert.equal(bye, undefined, 'no BYE from us after the caller hung up');
          assert.equal(ours.length, 0);
          return;
        }
        assert.ok(bye, 'our BYE is recorded');
        const data = bye.data as CallEventDataMap['ByeSent'];
        assert.deepEqual({ at: bye.at, trigger: data.trigger, sttWaitMs: data.sttWaitMs }, expected);
        assert.ok(bye.at >= t && bye.at <= t + D, 'never before t, never after t+D');
        assert.deepEqual(ours.map((w) => w.at), [expected.at], 'the BYE went on the wire then');
      }),
      fcParams(RUNS),
    );
  });
});
