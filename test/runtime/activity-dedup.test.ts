/**
 * Bot activity de-duplication has one owner, the runtime, and its state is in the stream: every
 * input an activity yields carries its `activityId`, the call's snapshot folds the ids applied,
 * and a repeat is dropped in the actor's turn — also on a node that took the call over and never
 * saw the first delivery (in-process signaling, scripted bot, simulated clock).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Rig } from '../property/support/rig.ts';
import type { CallEventDataMap } from '../../src/domain/events.ts';

async function liveCall(): Promise<{ rig: Rig; callId: string }> {
  const rig = await Rig.create();
  const callId = rig.sip.peer.offer({ to: '1000' });
  await rig.settle();
  assert.equal(rig.runtime.actor(callId)?.state, 'active');
  return { rig, callId };
}

describe('bot activity de-duplication (the runtime owns it; its state is in the stream)', () => {
  it('a repeated id, in the same delivery or a later one, is applied once; inputs carry the id', async () => {
    const { rig, callId } = await liveCall();
    const config = { id: 'c-1', type: 'event' as const, name: 'config', sessionParams: { botOperationResult: 'success' as const, delayBotDisconnectMs: 99_999 } };
    rig.runtime.botActivities(callId, [config, { ...config, sessionParams: { botOperationResult: 'failure' as const } }]);
    await rig.settle();
    rig.runtime.botActivities(callId, [{ ...config, sessionParams: { botOperationResult: 'failure' as const } }]);
    await rig.settle();
    const events = await rig.events(callId);
    const bot = events.filter((e) => e.type === 'SessionParamsUpdated' || e.type === 'BotInputRejected');
    assert.deepEqual(
      bot.map((e) => [e.type, (e.data as { activityId?: string }).activityId]),
      [
        ['BotInputRejected', 'c-1'],
        ['SessionParamsUpdated', 'c-1'],
      ],
      'one activity applied: its rejection (delay out of range) and its params, both tagged',
    );
    assert.equal(rig.runtime.actor(callId)?.snapshot.context.params.botOperationResult, 'success', 'the repeats changed nothing');
    assert.deepEqual(rig.runtime.actor(callId)?.snapshot.context.activityIds, ['c-1']);
  });

  it('after a takeover the new node drops a repeat of an activity the old node applied', async () => {
    const { rig, callId } = await liveCall();
    rig.runtime.sttStarted(callId);
    const hangup = { id: 'h-1', type: 'event' as const, name: 'hangup', activityParams: { hangupReason: 'first', delayBotDisconnectMs: 5_000 } };
    rig.runtime.botActivities(callId, [{ id: 'c-1', type: 'event', name: 'config', sessionParams: { botOperationResult: 'success' } }, hangup]);
    await rig.settle();
    assert.equal(rig.runtime.actor(callId)?.state, 'awaitingSttFinal');

    await rig.restart([callId]); // a new node, a new runtime: nothing in memory but the stream
    assert.deepEqual(rig.runtime.actor(callId)?.snapshot.context.activityIds, ['c-1', 'h-1'], 'rebuilt from the stream');
    rig.runtime.botActivities(callId, [
      { id: 'c-1', type: 'event', name: 'config', sessionParams: { botOperationResult: 'failure' } },
      { ...hangup, activityParams: { hangupReason: 'repeat', delayBotDisconnectMs: 0 } },
      { id: 'c-2', type: 'event', name: 'config', sessionParams: { botOperationData: { n: 2 } } },
    ]);
    await rig.settle();
    rig.runtime.sttFinal(callId, 'last words');
    await rig.advanceTo(rig.clock.now() + 6_000);

    const events = await rig.events(callId);
    const hangups = events.filter((e) => e.type === 'BotHangupRequested');
    assert.equal(hangups.length, 1, 'the repeat was not applied');
    const bye = events.find((e) => e.type === 'ByeSent')!.data as CallEventDataMap['ByeSent'];
    assert.equal(bye.reasonHeader, 'Q.850;cause=16;text="first"');
    const params = events.filter((e) => e.type === 'SessionParamsUpdated').map((e) => (e.data as CallEventDataMap['SessionParamsUpdated']).activityId);
    assert.deepEqual(params, ['c-1', 'c-2'], 'the repeat of c-1 was dropped, the new c-2 in the same delivery applied');
    const last = events.filter((e) => e.type === 'SessionParamsUpdated').at(-1)!.data as CallEventDataMap['SessionParamsUpdated'];
    assert.deepEqual(last.params, { botOperationData: { n: 2 } });
    assert.equal(events.at(-1)!.type, 'CallEnded');
  });
});
