/**
 * Blind transfer through the real runtime (in-process signaling, scripted bot, simulated clock):
 * REFER accepted and completed, refused, failed by NOTIFY, timed out, hostile targets, a second
 * transfer, a transfer after the hangup, REFER on a dialog that is gone. Every call re-verifies.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeHarness, type Harness } from '../support/harness.ts';
import { verifyCall } from '../../src/audit/verify.ts';
import type { CallEvent, DomainEvent } from '../../src/domain/events.ts';
import { applyToCdr, type Cdr } from '../../projections/cdr.ts';

const TARGET = 'sip:agent@pbx.example.com';

async function verified(h: Harness, callId: string): Promise<DomainEvent[]> {
  const events = await h.events(callId);
  const { differences } = verifyCall(events as CallEvent[]);
  assert.deepEqual(differences, [], 'replay --verify agrees');
  return events;
}

function dataOf<T>(events: DomainEvent[], type: string): T {
  const e = events.find((x) => x.type === type);
  assert.ok(e, `${type} recorded`);
  return e.data as T;
}

function cdrOf(events: DomainEvent[]): Cdr {
  const cdr: Cdr = { callId: events[0]!.callId, rejectedBotInputs: 0 };
  for (const e of events) applyToCdr(cdr, e);
  return cdr;
}

describe('transfer (runtime, in-process SIP, simulated clock)', () => {
  it('REFER accepted, NOTIFY 100 then 200: our BYE (Q.850 16), CallEnded transferred by the bot, bot told', async () => {
    const h = await makeHarness({
      script: [{ afterMs: 100, transfer: { transferTarget: TARGET, transferSipHeaders: [{ name: 'X-Case', value: '42' }], transferReferredByURL: 'sip:bot@voxledger', handoverReason: 'to a human' } }],
    });
    h.sip.onRefer = (callId) => {
      h.sip.peer.referResponse(callId, 202, 'Accepted');
      h.sip.peer.notify(callId, 100, 'Trying');
    };
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.advance(200);
    assert.deepEqual(h.sip.refers, [{ callId, target: TARGET, headers: [{ name: 'X-Case', value: '42' }], referredBy: 'sip:bot@voxledger' }]);
    assert.equal(h.sip.byes.length, 0, 'no BYE before the final NOTIFY');
    h.sip.peer.notify(callId, 200, 'OK');
    await h.advance(100);
    assert.deepEqual(h.sip.byes, [{ callId, reasonHeader: 'Q.850;cause=16;text="to a human"', headers: [] }]);
    const events = await verified(h, callId);
    assert.deepEqual(events.map((e) => e.type).slice(2), [
      'BotConversationStarted', 'TransferRequested', 'ReferSent', 'TransferProgressed', 'TransferProgressed', 'TransferProgressed', 'ByeSent', 'CallEnded',
    ]);
    assert.deepEqual(dataOf(events, 'ReferSent'), { target: TARGET, headers: [{ name: 'X-Case', value: '42' }], referredBy: 'sip:bot@voxledger' });
    const ended = events.at(-1)!.data as { reasonCode: string; reason: string; terminatedBy: string };
    assert.deepEqual([ended.reasonCode, ended.reason, ended.terminatedBy], ['transferred', 'to a human', 'bot']);
    assert.equal((dataOf(events, 'ByeSent') as { trigger: string }).trigger, 'transferred');
    await h.settle();
    assert.deepEqual(h.bot.notices.get(`scripted-${callId}`), [{ reasonCode: 'transferred', reason: 'to a human' }]);
    const cdr = cdrOf(events);
    assert.deepEqual([cdr.transferTarget, cdr.transferOutcome, cdr.transferSipStatus, cdr.reasonCode], [TARGET, 'transferred', 200, 'transferred']);
  });

  it('REFER refused with 603: TransferFailed declined, the bot gets transferStatus, the call goes on', async () => {
    const h = await makeHarness({ script: [{ afterMs: 100, transfer: { transferTarget: 'tel:+14155550123' } }, { afterMs: 1000, hangup: { hangupReason: 'done' } }] });
    h.sip.onRefer = (callId) => h.sip.peer.referResponse(callId, 603, 'Decline');
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.advance(500);
    const mid = await h.events(callId);
    assert.deepEqual(dataOf(mid, 'TransferFailed'), { sipStatus: 603, reasonCode: 'declined', reason: 'Decline', cause: 'refer-failed' });
    assert.notEqual(mid.at(-1)!.type, 'CallEnded', 'the call goes on');
    assert.deepEqual(h.bot.events.get(`scripted-${callId}`), [{ name: 'transferStatus', value: { status: 'failed', reasonCode: 'declined', reason: 'Decline', sipStatus: 603 } }]);
    await h.advance(700);
    const events = await verified(h, callId);
    assert.equal((events.at(-1)!.data as { reasonCode: string }).reasonCode, 'bot-disconnected');
    const cdr = cdrOf(events);
    assert.deepEqual([cdr.transferOutcome, cdr.transferSipStatus], ['failed', 603]);
  });

  it('REFER accepted, NOTIFY 486: TransferFailed busy (notify-failure); a new transfer may follow and succeed', async () => {
    const h = await makeHarness({ script: [{ afterMs: 100, transfer: { transferTarget: TARGET } }, { afterMs: 500, transfer: { transferTarget: 'sip:other@pbx' } }] });
    let n = 0;
    h.sip.onRefer = (callId) => {
      h.sip.peer.referResponse(callId, 202);
      h.sip.peer.notify(callId, ++n === 1 ? 486 : 200, n === 1 ? 'Busy Here' : 'OK');
    };
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.advance(300);
    assert.deepEqual(dataOf(await h.events(callId), 'TransferFailed'), { sipStatus: 486, reasonCode: 'busy', reason: 'Busy Here', cause: 'notify-failure' });
    await h.advance(400);
    const events = await verified(h, callId);
    assert.equal(h.sip.refers.length, 2);
    assert.equal((events.at(-1)!.data as { reasonCode: string }).reasonCode, 'transferred');
    assert.equal(cdrOf(events).transferTarget, 'sip:other@pbx');
    assert.equal(cdrOf(events).transferAttempts, 2);
  });

  it('a peer that never sends NOTIFY: TransferFailed at the stored deadline (timeout, no-answer), not before', async () => {
    const h = await makeHarness({ transferTimeoutMs: 5_000, script: [{ afterMs: 100, transfer: { transferTarget: TARGET } }] });
    h.sip.onRefer = (callId) => h.sip.peer.referResponse(callId, 202);
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.advance(200);
    const req = dataOf<{ timeoutMs: number; deadline: string }>(await h.events(callId), 'TransferRequested');
    assert.equal(req.timeoutMs, 5_000);
    await h.advance(Date.parse(req.deadline) - h.clock.now() - 10, 10);
    assert.equal((await h.types(callId)).includes('TransferFailed'), false, 'not before the deadline');
    await h.advance(100, 10);
    const events = await verified(h, callId);
    const failed = events.find((e) => e.type === 'TransferFailed')!;
    assert.deepEqual(failed.data, { sipStatus: 0, reasonCode: 'no-answer', reason: 'Transfer timed out', cause: 'timeout' });
    assert.ok(failed.at >= Date.parse(req.deadline));
    assert.equal(h.bot.events.get(`scripted-${callId}`)?.[0]?.value.reasonCode, 'no-answer');
    h.sip.peer.notify(callId, 200);
    await h.settle();
    assert.equal((await h.types(callId)).at(-1), 'TransferFailed', 'a NOTIFY after the failure changes nothing');
  });

  it('hostile targets and headers: recorded rejections, no REFER with them, the call goes on', async () => {
    const hostile = ['sip:a@b\r\nVia: SIP/2.0/UDP evil', 'sip:a@b>;x=<sip:c@d', 'http://example.com', 'sip:a b@c', 'sip:é@x', '', 'sip:a@b\u2028', 'tel:+1%zz'];
    const h = await makeHarness({
      script: [
        ...hostile.map((t, i) => ({ afterMs: 100 + i, transfer: { transferTarget: t } })),
        { afterMs: 200, transfer: { transferTarget: TARGET, transferSipHeaders: [{ name: 'Refer-To', value: 'sip:x@y' }, { name: 'X-Evil', value: 'a\r\nVia: b' }, { name: 'X-Ok', value: 'fine' }], transferReferredByURL: 'sip:x@y>\r\nVia: z' } },
      ],
    });
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.advance(300);
    const events = await verified(h, callId);
    const rejected = events.filter((e) => e.type === 'BotInputRejected').map((e) => (e.data as { field: string }).field);
    assert.deepEqual(rejected, [
      ...hostile.map(() => 'activityParams.transferTarget'),
      'activityParams.transferSipHeaders[0]', 'activityParams.transferSipHeaders[1]', 'activityParams.transferReferredByURL',
    ]);
    assert.deepEqual(h.sip.refers, [{ callId, target: TARGET, headers: [{ name: 'X-Ok', value: 'fine' }] }]);
    assert.equal(events.filter((e) => e.type === 'TransferRequested').length, 1);
  });

  it('a second transfer while one is under way, and a transfer after the hangup, are refused and recorded', async () => {
    const h = await makeHarness({
      defaults: { delayBotDisconnectMs: 2_000 },
      script: [{ afterMs: 100, transfer: { transferTarget: TARGET } }, { afterMs: 200, transfer: { transferTarget: 'sip:two@pbx' } }],
    });
    h.sip.onRefer = (callId) => h.sip.peer.referResponse(callId, 202);
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.advance(300);
    let events = await h.events(callId);
    assert.deepEqual(events.filter((e) => e.type === 'BotInputRejected').map((e) => e.data), [{ field: 'transfer', reason: 'transfer refused: a transfer is already in progress', excerpt: 'sip:two@pbx', activityId: 'scripted-ip-1-2-transfer' }]);
    // The bot hangs up while recognition runs (the BYE waits), then asks for a transfer: refused.
    h.runtime.sttStarted(callId);
    h.runtime.botActivities(callId, [{ id: 'h', type: 'event', name: 'hangup' }, { id: 't', type: 'event', name: 'transfer', activityParams: { transferTarget: 'sip:three@pbx' } }]);
    await h.settle();
    h.runtime.botActivities(callId, [{ id: 't2', type: 'event', name: 'handover', activityParams: { transferTarget: 'sip:four@pbx' } }]);
    await h.advance(3_000, 100);
    events = await verified(h, callId);
    const reasons = events.filter((e) => e.type === 'BotInputRejected').map((e) => (e.data as { reason: string }).reason);
    assert.deepEqual(reasons.slice(1), ['transfer refused: the call is ending', 'transfer refused: the call is ending']);
    assert.equal(h.sip.refers.length, 1);
    assert.equal((events.at(-1)!.data as { reasonCode: string }).reasonCode, 'bot-disconnected');
  });

  it('REFER on a dialog that is gone: nothing sent, ReferSent with the error, TransferFailed, the call goes on', async () => {
    const h = await makeHarness({ script: [{ afterMs: 100, transfer: { transferTarget: TARGET } }] });
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.advance(50);
    // The adapter loses the dialog (e.g. a node that could not adopt it).
    (h.sip as unknown as { dialogs: Map<string, string> }).dialogs.set(callId, 'ended');
    await h.advance(100);
    const events = await verified(h, callId);
    assert.equal(h.sip.refers.length, 0);
    assert.match((dataOf(events, 'ReferSent') as { error: string }).error, /VOX_SIP_NO_DIALOG/);
    assert.equal((dataOf(events, 'TransferFailed') as { cause: string; sipStatus: number }).sipStatus, 0);
    assert.equal(h.bot.events.get(`scripted-${callId}`)?.[0]?.value.reasonCode, 'error');
  });

  it('the caller hangs up after the final NOTIFY, before our BYE: still transferred, no BYE from us', async () => {
    const h = await makeHarness({ script: [{ afterMs: 100, transfer: { transferTarget: TARGET } }] });
    h.sip.onRefer = (callId) => h.sip.peer.referResponse(callId, 202);
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.advance(200);
    h.sip.peer.bye(callId);
    h.sip.peer.notify(callId, 200);
    await h.advance(100);
    const events = await verified(h, callId);
    assert.equal((events.at(-1)!.data as { reasonCode: string }).reasonCode, 'client-disconnected', 'the BYE came before the NOTIFY: client-disconnected');
    assert.equal(h.sip.byes.length, 0);
  });
});
