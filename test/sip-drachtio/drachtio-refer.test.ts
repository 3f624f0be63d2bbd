/**
 * The drachtio adapter's REFER through the real drachtio-srf against the drachtio-server TEST
 * DOUBLE: Refer-To / Referred-By / the bot's headers as the application hands them to the
 * server (after the wire check), the REFER's final response reported, each NOTIFY of its
 * subscription answered (200 / 489 / 481) and its sipfrag reported, a refused REFER, REFER
 * before answer and after the peer's BYE.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCodes, isVoxError } from '../../src/domain/errors.ts';
import type { TransferReport } from '../../src/sip/port.ts';
import { parseSip } from './drachtio-server-double.ts';
import { CALLER_SDP, OUR_SDP, sleep, startPair, type Pair } from './helpers.ts';

async function answered(p: Pair) {
  const call = p.dbl.injectInvite({ to: 'bot-7', from: 'alice', sdp: CALLER_SDP });
  const offered = await p.waitEvent('offered');
  await p.adapter.answer(offered.callId, { sdp: OUR_SDP });
  p.dbl.injectAck(call);
  await p.dbl.until(() => p.dbl.wire.find((w) => w.direction === 'in' && w.text.startsWith('ACK ')), 'the ACK');
  return { call, callId: offered.callId };
}

function recordReports(p: Pair): Array<{ callId: string } & TransferReport> {
  const reports: Array<{ callId: string } & TransferReport> = [];
  (p.rec.events as { transferProgress?: (callId: string, r: TransferReport) => void }).transferProgress = (callId, r) => reports.push({ callId, ...r });
  return reports;
}

const answerTo = (p: Pair, txnId: string) => p.dbl.until(() => p.dbl.appMessages.find((m) => m.txnId === txnId && m.parsed.status !== undefined), `the answer to ${txnId}`);

test('REFER with Refer-To, Referred-By and the bot\'s headers; 202 reported; NOTIFYs answered and reported (against a drachtio-server test double)', async (t) => {
  const p = await startPair(t);
  const reports = recordReports(p);
  const { call, callId } = await answered(p);
  const outcome = await p.adapter.refer(callId, {
    target: 'sip:agent@pbx.example.com',
    referredBy: 'sip:bot@voxledger.example',
    headers: [{ name: 'X-Case', value: '42' }, { name: 'X-Evil', value: 'a\r\nVia: SIP/2.0/UDP 6.6.6.6' }, { name: 'Referred-By', value: '<sip:x@y>' }],
  });
  assert.equal(outcome, 'sent');
  const [refer] = p.dbl.appRequests('REFER');
  assert.ok(refer, 'the REFER reached drachtio-server');
  assert.equal(refer.dialogId, call.dialogId);
  const wire = parseSip(refer.wire!);
  const values = (name: string) => wire.headers.filter((h) => h.name.toLowerCase() === name.toLowerCase()).map((h) => h.value);
  assert.deepEqual(values('Refer-To'), ['<sip:agent@pbx.example.com>']);
  assert.deepEqual(values('Referred-By'), ['<sip:bot@voxledger.example>']);
  assert.deepEqual(values('X-Case'), ['42']);
  assert.deepEqual(values('X-Evil'), []);
  assert.ok(!refer.wire!.includes('6.6.6.6'), 'nothing injected');
  assert.deepEqual(reports, [{ callId, source: 'refer-response', sipStatus: 202, reason: 'Accepted' }]);

  const n1 = p.dbl.injectNotify(call.dialogId, { body: 'SIP/2.0 100 Trying\r\n' });
  assert.equal((await answerTo(p, n1)).parsed.status, 200);
  const n2 = p.dbl.injectNotify(call.dialogId, { body: '\u0000garbage' });
  assert.equal((await answerTo(p, n2)).parsed.status, 200);
  const n3 = p.dbl.injectNotify(call.dialogId, { body: 'SIP/2.0 200 OK', event: 'dialog' });
  assert.equal((await answerTo(p, n3)).parsed.status, 489);
  const n4 = p.dbl.injectNotify(call.dialogId, { body: 'SIP/2.0 200 OK\r\n', state: 'terminated;reason=noresource' });
  assert.equal((await answerTo(p, n4)).parsed.status, 200);
  const n5 = p.dbl.injectNotify(call.dialogId, { body: 'SIP/2.0 200 OK\r\n' });
  assert.equal((await answerTo(p, n5)).parsed.status, 481, 'the subscription ended');
  assert.deepEqual(reports.slice(1).map((r) => [r.source, r.sipStatus, r.reason]), [['notify', 100, 'Trying'], ['notify', 200, 'OK']]);
  assert.deepEqual(p.dbl.violations, []);
});

test('REFER refused (603) is reported; a hostile target never reaches drachtio-server; REFER before answer and after the peer\'s BYE (against a drachtio-server test double)', async (t) => {
  const p = await startPair(t);
  const reports = recordReports(p);
  p.dbl.referResponse = { status: 603, reason: 'Decline' };
  const { call, callId } = await answered(p);
  await assert.rejects(p.adapter.refer(callId, { target: 'sip:a@b>\r\nVia: x', headers: [] }), (e) => isVoxError(e, ErrorCodes.SIP_HEADER_REJECTED));
  assert.equal(p.dbl.appRequests('REFER').length, 0);
  assert.equal(await p.adapter.refer(callId, { target: 'tel:+14155550123', headers: [] }), 'sent');
  assert.deepEqual(reports, [{ callId, source: 'refer-response', sipStatus: 603, reason: 'Decline' }]);
  const n = p.dbl.injectNotify(call.dialogId, { body: 'SIP/2.0 200 OK' });
  assert.equal((await answerTo(p, n)).parsed.status, 481, 'no subscription after a refused REFER');

  p.dbl.injectBye(call.dialogId);
  await p.waitEvent('peerHungUp', callId);
  assert.equal(await p.adapter.refer(callId, { target: 'sip:x@y', headers: [] }), 'peer-ended');

  const ringing = p.dbl.injectInvite({ to: 'bot-7', from: 'bob', sdp: CALLER_SDP });
  const offered = await p.dbl.until(() => p.rec.of('offered').find((o) => o.offer.sipCallId === ringing.sipCallId), 'the second offer');
  await assert.rejects(p.adapter.refer(offered.callId, { target: 'sip:x@y', headers: [] }), (e) => isVoxError(e, ErrorCodes.SIP_NO_DIALOG));
  await sleep(20);
  assert.equal(p.dbl.appRequests('REFER').length, 1);
  assert.deepEqual(p.dbl.violations, []);
});
