/**
 * DrachtioSipAdapter driven through the real drachtio-srf library against a drachtio-server
 * TEST DOUBLE (test/sip-drachtio/drachtio-server-double.ts), which speaks drachtio's wire protocol
 * and records every SIP message the application asks the server to send.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ErrorCodes, VoxError, isVoxError } from '../../src/domain/errors.ts';
import { buildReasonHeader } from '../../src/domain/hangup-headers.ts';
import type { SipHeader } from '../../src/domain/types.ts';
import { DrachtioSipAdapter } from '../../src/sip/drachtio/drachtio-adapter.ts';
import { DrachtioServerDouble, parseSip } from './drachtio-server-double.ts';
import { CALLER_SDP, EventRecorder, OUR_SDP, SECRET, sleep, startPair, type Pair } from './helpers.ts';

/** An inbound call offered, answered with OUR_SDP and ACKed by the caller. */
async function answeredInboundCall(p: Pair, inviteHeaders?: SipHeader[]) {
  const call = p.dbl.injectInvite({ to: 'bot-7', from: 'alice', sdp: CALLER_SDP, headers: inviteHeaders });
  const offered = await p.waitEvent('offered');
  await p.adapter.answer(offered.callId, { sdp: OUR_SDP });
  p.dbl.injectAck(call);
  await p.dbl.until(() => p.dbl.wire.find((w) => w.direction === 'in' && w.text.startsWith('ACK ')), 'the ACK');
  return { call, callId: offered.callId, offer: offered.offer };
}

function assertVoxError(err: unknown, code: string, message?: RegExp): true {
  assert.ok(isVoxError(err), `expected a VoxError, got ${String(err)}`);
  assert.equal((err as VoxError).code, code);
  if (message) assert.match((err as VoxError).message, message);
  return true;
}

test('inbound INVITE is offered and answered 200 OK with our SDP (against a drachtio-server test double)', async (t) => {
  const p = await startPair(t);
  const call = p.dbl.injectInvite({ to: 'bot-7', from: 'alice', sdp: CALLER_SDP, headers: [{ name: 'X-Customer', value: 'c-19' }] });
  const { callId, offer } = await p.waitEvent('offered');

  assert.equal(offer.sipCallId, call.sipCallId);
  assert.equal(offer.to, 'bot-7');
  assert.equal(offer.from, 'sip:alice@127.0.0.2:5062');
  assert.equal(offer.requestUri, 'sip:bot-7@127.0.0.1:5060');
  assert.equal(offer.sdp, CALLER_SDP);
  assert.equal(offer.headers['x-customer'], 'c-19');
  assert.equal(offer.headers['call-id'], call.sipCallId);
  assert.equal(p.adapter.address()?.port, 5060);

  await p.adapter.answer(callId, { sdp: OUR_SDP });
  const ok = await p.dbl.waitForAppMessage((m) => m.parsed.status === 200 && m.txnId === call.txnId, 'the 200 OK');
  assert.equal(ok.parsed.body, OUR_SDP);
  assert.ok(ok.parsed.headers.some((h) => h.name.toLowerCase() === 'content-type' && h.value === 'application/sdp'));
  const onWire = parseSip(ok.wire!);
  assert.match(onWire.headers.find((h) => h.name === 'To')!.value, /;tag=/);
  assert.ok(onWire.headers.some((h) => h.name === 'Contact'));
  assert.equal(onWire.body, OUR_SDP);

  const answered = await p.waitEvent('answered', callId);
  assert.deepEqual(answered.info, { sipStatus: 200, sdp: CALLER_SDP });
  p.dbl.injectAck(call);
  await p.dbl.until(() => p.dbl.appMessages.find((m) => m.parsed.method === 'ACK') ?? (p.dbl.wire.some((w) => w.text.startsWith('ACK ')) ? true : undefined), 'the ACK');
  assert.deepEqual(p.dbl.violations, []);
});

test('the app\'s BYE carries Reason and two X- headers, byte for byte (against a drachtio-server test double)', async (t) => {
  const p = await startPair(t);
  const { call, callId } = await answeredInboundCall(p);
  const reasonHeader = buildReasonHeader('Caller asked for "agent" \\ done');
  await p.adapter.hangup(callId, {
    reasonHeader,
    headers: [
      { name: 'X-Bot-Result', value: 'success' },
      { name: 'X-Ticket', value: 'T-42; priority=high' },
    ],
  });
  const byes = p.dbl.appRequests('BYE');
  assert.equal(byes.length, 1);
  const bye = byes[0]!;
  assert.equal(bye.dialogId, call.dialogId);
  assert.equal(
    bye.text,
    'BYE sip:placeholder SIP/2.0\r\n' +
      'Reason: Q.850;cause=16;text="Caller asked for \\"agent\\" \\\\ done"\r\n' +
      'X-Bot-Result: success\r\n' +
      'X-Ticket: T-42; priority=high\r\n' +
      'Content-Length: 0\r\n' +
      '\r\n',
  );
  // … and on the simulated wire, after the dialog's own headers, exactly those three.
  const wire = parseSip(bye.wire!);
  assert.equal(wire.startLine, 'BYE sip:alice@127.0.0.2:5062 SIP/2.0');
  assert.deepEqual(
    wire.headers.filter((h) => !['Via', 'Max-Forwards', 'From', 'To', 'Call-ID', 'CSeq', 'Content-Length'].includes(h.name)),
    [
      { name: 'Reason', value: reasonHeader },
      { name: 'X-Bot-Result', value: 'success' },
      { name: 'X-Ticket', value: 'T-42; priority=high' },
    ],
  );
  assert.equal(p.rec.of('peerHungUp').length, 0);
  assert.deepEqual(p.dbl.violations, []);
});
