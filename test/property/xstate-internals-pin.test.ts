/**
 * Pins what machines/decide.ts relies on inside XState, so an XState upgrade that breaks it
 * fails here, loudly, instead of deciding calls wrongly:
 * - INERT_SCOPE (built with `as unknown as AnyActorScope`) has every member XState's own actor
 *   scope has;
 * - `evolve` (the machine's `transition` with INERT_SCOPE) gives what XState's public pure
 *   `transition()` gives, for random walks through the call's events;
 * - no transition leaves an action for the scope's `actionExecutor` to run (the inert scope drops
 *   them: the call machine may only `assign`);
 * - `accepts` (`snapshot.can`) is true exactly when XState takes the event (a refused event leaves
 *   the snapshot object as it was), and a finished snapshot takes nothing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { createActor, initialTransition, transition } from 'xstate';
import { callMachine } from '../../machines/call-machine.ts';
import { INERT_SCOPE, accepts, evolve, initialSnapshot, stateOf } from '../../machines/decide.ts';
import type { CallEvent, CallEventDataMap, CallEventType } from '../../src/domain/events.ts';
import { iso } from '../../src/domain/clock.ts';
import { fcParams, runsOf } from './support/fc-params.ts';

const XSTATE_VERSION = (createRequire(import.meta.url)('xstate/package.json') as { version: string }).version;
const UPGRADE = `XState ${XSTATE_VERSION}: machines/decide.ts relies on XState internals that changed; review INERT_SCOPE, evolve and accepts before upgrading`;

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
function ev<T extends CallEventType>(type: T, data: CallEventDataMap[T], at: number): CallEvent {
  return { type, data, callId: 'pin', at } as CallEvent;
}
const eventArb: fc.Arbitrary<(at: number) => CallEvent> = fc.constantFrom(
  (at: number) => ev('CallOffered', { direction: 'inbound', from: 'sip:a@a', to: '1000', sipCallId: 's', botId: 'demo' }, at),
  (at: number) => ev('CallOffered', { direction: 'outbound', from: 'voxledger', to: 'sip:b@b', sipCallId: '', botId: 'demo', ringTimeoutMs: 1_000 }, at),
  (at: number) => ev('CallAnswered', { sipStatus: 200 }, at),
  (at: number) => ev('OutboundCallFailed', { sipStatus: 486, reasonCode: 'busy', reason: 'Busy Here' }, at),
  (at: number) => ev('RingTimeoutReached', { ringTimeoutMs: 1_000 }, at),
  (at: number) => ev('CancelReceived', {}, at),
  (at: number) => ev('BotConversationStarted', { provider: 'scripted', conversationId: 'c', ref: {} }, at),
  (at: number) => ev('BotStartFailed', { provider: 'scripted', code: 'VOX_BOT_UNREACHABLE', message: 'down' }, at),
  (at: number) => ev('SessionParamsUpdated', { params: { botOperationResult: 'success' }, source: 'bot' }, at),
  (at: number) => ev('BotHangupRequested', { hangupReason: 'done', hangupSipHeaders: [], delayMs: 500, deadline: iso(at + 500) }, at),
  (at: number) => ev('BotHangupRequested', { hangupSipHeaders: [], delayMs: 0, deadline: iso(at) }, at),
  (at: number) => ev('SttStarted', {}, at),
  (at: number) => ev('SttFinalReceived', { text: 'bye' }, at),
  (at: number) => ev('ByeSent', { reasonHeader: 'Q.850;cause=16', headers: [], trigger: 'immediate', sttWaitMs: 0 }, at),
  (at: number) => ev('ByeReceived', {}, at),
  (at: number) => ev('CallErrored', { code: 'VOX_X', message: 'x' }, at),
  (at: number) => ev('CallEnded', { reasonCode: 'bot-disconnected', reason: 'done', terminatedBy: 'bot', durationMs: 0 }, at),
);

const RUNS = 300;

describe(`XState internals machines/decide.ts relies on (xstate ${XSTATE_VERSION})`, () => {
  it('INERT_SCOPE has every member of the scope XState gives its own actors', () => {
    const real = (createActor(callMachine) as unknown as { _actorScope?: Record<string, unknown> })._actorScope;
    assert.ok(real && typeof real === 'object', `${UPGRADE} (actors no longer carry _actorScope)`);
    const missing = Object.keys(real).filter((k) => !(k in (INERT_SCOPE as object)));
    assert.deepEqual(missing, [], `${UPGRADE} (the actor scope gained ${missing.join(', ')})`);
    for (const k of ['defer', 'stopChild', 'emit', 'actionExecutor', 'logger'] as const) {
      assert.equal(typeof (INERT_SCOPE as unknown as Record<string, unknown>)[k], 'function', `${UPGRADE} (INERT_SCOPE.${k})`);
    }
  });

  it('the initial snapshot is XState\'s own initial transition', () => {
    const [s0, actions] = initialTransition(callMachine);
    assert.deepEqual(actions, [], `${UPGRADE} (the initial transition has actions to execute)`);
    assert.equal(stateOf(initialSnapshot()), s0.value);
    assert.deepEqual(initialSnapshot().context, s0.context);
  });

  it(`evolve and accepts agree with XState's public transition() on random walks (${runsOf(RUNS)} runs)`, () => {
    fc.assert(
      fc.property(fc.constantFrom('inbound', 'outbound'), fc.array(eventArb, { maxLength: 12 }), (direction, rest) => {
        // Mostly from an offer on, so the walks go deep into the statechart.
        const offer = (at: number) => ev('CallOffered', { direction, from: 'sip:a@a', to: '1000', sipCallId: 's', botId: 'demo', ...(direction === 'outbound' ? { ringTimeoutMs: 1_000 } : {}) }, at);
        const walk = [offer, ...rest];
        let ours = initialSnapshot();
        let theirs = initialTransition(callMachine)[0];
        walk.forEach((make, i) => {
          const e = make(T0 + i * 100);
          const [next, actions] = transition(callMachine, theirs, e);
          assert.deepEqual(actions, [], `${UPGRADE} (${e.type} in ${stateOf(ours)} left actions for the executor)`);
          const taken = next !== theirs;
          if (theirs.status === 'active') assert.equal(accepts(ours, e), taken, `${UPGRADE} (can(${e.type}) in ${stateOf(ours)} disagrees with transition)`);
          else assert.equal(accepts(ours, e), false, 'a finished call takes nothing');
          ours = evolve(ours, e);
          if (theirs.status === 'active') theirs = next;
          assert.equal(ours.value, theirs.value, `${UPGRADE} (state after ${e.type})`);
          assert.equal(ours.status, theirs.status, `${UPGRADE} (status after ${e.type})`);
          assert.deepEqual(ours.context, theirs.context, `${UPGRADE} (context after ${e.type})`);
        });
      }),
      fcParams(RUNS),
    );
  });
});
