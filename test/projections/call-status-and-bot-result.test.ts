/**
 * The call-status and bot-operation-result projections over streams the real runtime wrote
 * (in-process signaling, scripted bot, simulated clock), folded in stream order.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeHarness, type Harness } from '../support/harness.ts';
import { foldProjection, type Projection } from '../../projections/projection.ts';
import { callStatusProjection } from '../../projections/call-status.ts';
import { botOperationResultProjection } from '../../projections/bot-operation-result.ts';
import { iso } from '../../src/domain/clock.ts';
import type { DomainEvent } from '../../src/domain/events.ts';

async function fold<S, O>(p: Projection<S, O>, h: Harness, callIds: string[]): Promise<O> {
  const events: DomainEvent[] = [];
  for (const id of callIds) events.push(...(await h.events(id)));
  events.sort((a, b) => a.at - b.at);
  const state = foldProjection(p, events.map((event, position) => ({ event, at: { streamId: `call-${event.callId}`, revision: position, position, eventId: String(position) } })));
  return p.output!(state);
}

describe('call-status projection', () => {
  it('inbound bot hangup: ringing, answered, completed, each with the result as it stood; ids are the source events\' ids', async () => {
    const h = await makeHarness({
      script: [
        { afterMs: 100, sessionParams: { botOperationResult: 'failure' } },
        { afterMs: 200, sessionParams: { botOperationResult: 'success', botOperationData: { feedback: 'ok' } } },
        { afterMs: 300, hangup: { hangupReason: 'done' } },
      ],
    });
    const start = h.clock.now();
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.settle();
    await h.advance(400);
    const out = await fold(callStatusProjection, h, [callId]);
    assert.deepEqual(
      out.map((n) => [n.status, n.direction, n.botId]),
      [
        ['ringing', 'inbound', 'demo'],
        ['answered', 'inbound', 'demo'],
        ['completed', 'inbound', 'demo'],
      ],
    );
    const events = await h.events(callId);
    assert.deepEqual(out.map((n) => n.notificationId), ['CallOffered', 'CallAnswered', 'CallEnded'].map((t) => String(events.findIndex((e) => e.type === t))));
    assert.equal(out[0]!.at, iso(start));
    assert.equal(out[0]!.botOperationResult, undefined, 'nothing set yet at offer');
    const ended = out.at(-1)!;
    assert.deepEqual(
      { reasonCode: ended.reasonCode, reason: ended.reason, result: ended.botOperationResult, data: ended.botOperationData, sipStatus: ended.sipStatus },
      { reasonCode: 'bot-disconnected', reason: 'done', result: 'success', data: { feedback: 'ok' }, sipStatus: undefined },
    );
  });

  it('outbound busy: initiated, then failed with the SIP status; the state keeps no ended call', async () => {
    const h = await makeHarness();
    const callId = await h.runtime.placeCall({ botId: 'demo', to: 'sip:bob@example.com' });
    await h.settle();
    h.sip.peer.fail(callId, 486);
    await h.settle();
    const events = await h.events(callId);
    const state = foldProjection(callStatusProjection, events.map((event, position) => ({ event, at: { streamId: `call-${callId}`, revision: position, position, eventId: String(position) } })));
    const out = callStatusProjection.output!(state);
    assert.deepEqual(out.map((n) => n.status), ['initiated', 'failed']);
    assert.deepEqual({ reasonCode: out[1]!.reasonCode, sipStatus: out[1]!.sipStatus, direction: out[1]!.direction }, { reasonCode: 'busy', sipStatus: 486, direction: 'outbound' });
    assert.equal(state.calls.size, 0, 'state bounded by live calls');
  });

  it('caller hangs up first: the result the bot set still reaches the ended notification', async () => {
    const h = await makeHarness({ script: [{ afterMs: 100, sessionParams: { botOperationResult: 'success' } }, { afterMs: 10_000, hangup: {} }] });
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.advance(200);
    h.sip.peer.bye(callId);
    await h.settle();
    const out = await fold(callStatusProjection, h, [callId]);
    assert.deepEqual(
      { status: out.at(-1)!.status, reasonCode: out.at(-1)!.reasonCode, result: out.at(-1)!.botOperationResult },
      { status: 'completed', reasonCode: 'client-disconnected', result: 'success' },
    );
  });
});

describe('bot-operation-result projection', () => {
  it('last write wins per call, from config defaults and the bot alike; calls without one are absent', async () => {
    const h = await makeHarness({
      defaults: { botOperationResult: 'failure', botOperationData: { from: 'config' } },
      script: [{ afterMs: 100, sessionParams: { botOperationResult: 'success' } }, { afterMs: 200, hangup: { hangupReason: 'ok' } }],
    });
    const a = h.sip.peer.offer({ to: '1000' });
    await h.advance(300);
    const b = h.sip.peer.offer({ to: '1000' });
    await h.advance(50);
    h.sip.peer.bye(b);
    await h.settle();
    const out = await fold(botOperationResultProjection, h, [a, b]);
    assert.deepEqual(out[a], { botOperationResult: 'success', botOperationData: { from: 'config' } }, 'the bot overrides the default result, the data stays');
    assert.deepEqual(out[b], { botOperationResult: 'failure', botOperationData: { from: 'config' } }, 'the defaults when the caller hangs up before the bot sets anything');

    const plain = await makeHarness();
    const c = plain.sip.peer.offer({ to: '1000' });
    await plain.settle();
    plain.sip.peer.bye(c);
    await plain.settle();
    assert.deepEqual(await fold(botOperationResultProjection, plain, [c]), {});
  });
});
