/**
 * Races (fc.scheduler): the store's appends take time, as a durable store's do, and the
 * scheduler decides when each completes relative to the caller's BYE, the bot's deliveries, the
 * STT final and the clock. Whatever the order, the recorded history must agree with the wire,
 * interpret the bot's deliveries in the order they arrived, and stay auditable.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Rig } from './support/rig.ts';
import { drain, scheduledStore, stimulus } from './support/scheduled-store.ts';
import { checkCallHistory } from './support/invariants.ts';
import { auditHistory } from './support/replay.ts';
import { fcParams, runsOf } from './support/fc-params.ts';
import type { CallEventDataMap } from '../../src/domain/events.ts';

const RUNS = 200;

async function scheduledRig(s: fc.Scheduler) {
  const rig = await Rig.create({ wrapStore: (inner) => scheduledStore(s, inner) });
  const callId = rig.sip.peer.offer({ to: '1000' });
  await drain(s, rig);
  assert.equal(rig.runtime.actor(callId)?.state, 'active', 'the call is up before the race');
  return { rig, callId };
}

/** Lets every deadline pass and the caller hang up if the call still runs. */
async function finish(s: fc.Scheduler, rig: Rig, callId: string): Promise<void> {
  await rig.advanceTo(rig.clock.now() + 12_000);
  await drain(s, rig);
  if (rig.runtime.actor(callId)) {
    rig.peerBye(callId);
    await drain(s, rig);
  }
}

describe('races with a store whose appends take time (fc.scheduler; in-process signaling, simulated clock)', () => {
  it(`the stream agrees with the wire: no ByeSent when the caller's BYE came first (${runsOf(RUNS)} runs)`, async () => {
    const params = fc.record({
      recognising: fc.boolean(),
      delayMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5_000 })),
      withFinal: fc.boolean(),
      advanceMs: fc.option(fc.integer({ min: 1, max: 8_000 }), { nil: undefined }),
      byeTwice: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), params, async (s, p) => {
        const { rig, callId } = await scheduledRig(s);
        if (p.recognising) {
          rig.runtime.sttStarted(callId);
          await drain(s, rig);
        }
        const hangup = { id: 'h-1', type: 'event' as const, name: 'hangup', activityParams: { hangupReason: 'bye', delayBotDisconnectMs: p.delayMs } };
        const jobs = [
          stimulus(s, 'bot hangup', () => rig.runtime.botActivities(callId, [hangup])),
          stimulus(s, 'caller BYE', () => void rig.peerBye(callId)),
        ];
        if (p.withFinal) jobs.push(stimulus(s, 'STT final', () => rig.runtime.sttFinal(callId, 'last words')));
        if (p.advanceMs !== undefined) jobs.push(stimulus(s, `clock +${p.advanceMs}`, () => void rig.advanceTo(rig.clock.now() + p.advanceMs!)));
        if (p.byeTwice) jobs.push(stimulus(s, 'caller BYE again', () => void rig.peerBye(callId)));
        await drain(s, rig);
        await Promise.all(jobs);
        await finish(s, rig, callId);
        checkCallHistory(await rig.events(callId), { ended: true, wire: rig.wireFor(callId), late: true });
      }),
      fcParams(RUNS),
    );
  });

  it(`bot deliveries are interpreted in the order they arrived, also while the actor is busy (${runsOf(RUNS)} runs)`, async () => {
    const params = fc.record({
      delayMs: fc.integer({ min: 1, max: 5_000 }),
      reason: fc.constantFrom('from config', 'done "now"'),
      busyFirst: fc.constantFrom('SttStarted', 'SessionParamsUpdated'),
    });
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), params, async (s, p) => {
        const { rig, callId } = await scheduledRig(s);
        rig.runtime.sttStarted(callId);
        await drain(s, rig);
        // In this order: something that keeps the actor busy, the bot's settings, the bot's hangup.
        const seq = s.scheduleSequence([
          {
            label: `busy: ${p.busyFirst}`,
            builder: async () =>
              p.busyFirst === 'SttStarted'
                ? rig.runtime.sttStarted(callId)
                : rig.runtime.botActivities(callId, [{ id: 'c-0', type: 'event', name: 'config', sessionParams: { botOperationData: { step: 0 } } }]),
          },
          { label: 'bot settings', builder: async () => rig.runtime.botActivities(callId, [{ id: 'c-1', type: 'event', name: 'config', sessionParams: { delayBotDisconnectMs: p.delayMs, hangupReason: p.reason } }]) },
          { label: 'bot hangup', builder: async () => rig.runtime.botActivities(callId, [{ id: 'h-1', type: 'event', name: 'hangup' }]) },
        ]);
        await drain(s, rig);
        await seq.task;
        await finish(s, rig, callId);
        const events = await rig.events(callId);
        const hangup = events.find((e) => e.type === 'BotHangupRequested');
        assert.ok(hangup, 'the hangup is recorded');
        const d = hangup.data as CallEventDataMap['BotHangupRequested'];
        assert.deepEqual(
          { delayMs: d.delayMs, hangupReason: d.hangupReason },
          { delayMs: p.delayMs, hangupReason: p.reason },
          'the hangup delivered after the settings uses them (delayBotDisconnectMs and hangupReason recorded before it in the stream)',
        );
        checkCallHistory(events, { ended: true, wire: rig.wireFor(callId), late: true });
      }),
      fcParams(RUNS),
    );
  });

  it(`the recorded history stays auditable: no input taken while a decision was due (${runsOf(RUNS)} runs)`, async () => {
    const params = fc.record({
      delayMs: fc.integer({ min: 1, max: 5_000 }),
      late: fc.constantFrom('SttFinalReceived', 'ByeReceived', 'SessionParamsUpdated'),
      overshootMs: fc.integer({ min: 0, max: 2_000 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), params, async (s, p) => {
        const { rig, callId } = await scheduledRig(s);
        rig.runtime.sttStarted(callId);
        await drain(s, rig);
        rig.runtime.botActivities(callId, [{ id: 'h-1', type: 'event', name: 'hangup', activityParams: { delayBotDisconnectMs: p.delayMs } }]);
        await drain(s, rig);
        assert.equal(rig.runtime.actor(callId)?.state, 'awaitingSttFinal');
        const deadline = rig.clock.now() + p.delayMs;
        const jobs = [
          // Keeps the actor busy with an append in flight.
          stimulus(s, 'bot settings', () => rig.runtime.botActivities(callId, [{ id: 'c-1', type: 'event', name: 'config', sessionParams: { botOperationResult: 'success' } }])),
          stimulus(s, p.late, () => {
            if (p.late === 'SttFinalReceived') rig.runtime.sttFinal(callId, 'last words');
            else if (p.late === 'ByeReceived') rig.peerBye(callId);
            else rig.runtime.botActivities(callId, [{ id: 'c-2', type: 'event', name: 'config', sessionParams: { botOperationResult: 'failure' } }]);
          }),
          stimulus(s, `clock to the deadline +${p.overshootMs}`, () => void rig.advanceTo(deadline + p.overshootMs)),
        ];
        await drain(s, rig);
        await Promise.all(jobs);
        await finish(s, rig, callId);
        const events = await rig.events(callId);
        auditHistory(events);
        // (The wire is the first property's concern; here only the stream's own rules.)
        checkCallHistory(events, { ended: true, late: true });
      }),
      fcParams(RUNS),
    );
  });
  it(`bot first: the caller's CANCEL races the bot start and the answer; one ending, no BYE unless answered, the bot told once if its conversation exists (${runsOf(RUNS)} runs)`, async () => {
    const params = fc.record({ failStart: fc.boolean(), cancel: fc.boolean(), botHangup: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), params, async (s, p) => {
        const rig = await Rig.create({ answer: 'after-bot', failStart: p.failStart, wrapStore: (inner) => scheduledStore(s, inner) });
        const callId = rig.sip.peer.offer({ to: '1000' });
        const jobs: Array<Promise<unknown>> = [];
        if (p.cancel) jobs.push(stimulus(s, 'caller CANCEL', () => rig.sip.peer.cancel(callId)));
        if (p.botHangup) jobs.push(stimulus(s, 'bot hangup', () => rig.runtime.botActivities(callId, [{ id: 'h-1', type: 'event', name: 'hangup', activityParams: { hangupReason: 'early' } }])));
        await drain(s, rig);
        await Promise.all(jobs);
        await finish(s, rig, callId);
        const events = await rig.events(callId);
        checkCallHistory(events, { ended: true, wire: rig.wireFor(callId), late: true });
        const types = events.map((e) => e.type);
        const answered = types.includes('CallAnswered');
        if (p.failStart) assert.ok(!answered, 'a bot that cannot start: never answered');
        if (!answered) assert.equal(rig.wireFor(callId).filter((w) => w.side === 'runtime').length, 0, 'no BYE on an unanswered call');
        if (types.includes('BotStartFailed')) assert.deepEqual(rig.sip.rejects.map((r) => r.status), [480], 'refused 480');
        // Told once when its conversation exists: by the notifier (BotConversationStarted recorded:
        // test/runtime/bot-first.test.ts) or, created after the call ended, by the late-bot path.
        for (let i = 0; i < 50 && !p.failStart && !types.includes('BotConversationStarted') && !rig.bot.notices.has(`scripted-${callId}`); i++) await new Promise((r) => setTimeout(r, 10));
        const late = rig.bot.notices.get(`scripted-${callId}`)?.length ?? 0;
        assert.equal((types.includes('BotConversationStarted') ? 1 : 0) + late, p.failStart ? 0 : 1, 'told once when the conversation exists');
      }),
      fcParams(RUNS),
    );
  });
});
