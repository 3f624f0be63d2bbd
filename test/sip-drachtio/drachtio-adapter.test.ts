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
  await sleep(20);
  assert.equal(p.rec.log.length, 2, 'offered and answered, nothing else');
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

test('a hostile header set (CRLF in a value, a Via, 101 headers) puts nothing extra on the wire (against a drachtio-server test double)', async (t) => {
  const p = await startPair(t);
  const { callId } = await answeredInboundCall(p);
  const numbered = Array.from({ length: 101 }, (_, i) => ({ name: `X-H${i + 1}`, value: `v${i + 1}` }));
  const hostile: SipHeader[] = [
    { name: 'X-Evil', value: 'a\r\nVia: SIP/2.0/UDP 6.6.6.6;branch=z9hG4bKevil' },
    { name: 'X-Lf', value: 'b\nX-Injected: yes' },
    { name: 'X-Nul', value: 'c\u0000d' },
    { name: 'Via', value: 'SIP/2.0/UDP 6.6.6.6;branch=z9hG4bKevil2' },
    { name: 'Contact', value: '<sip:evil@6.6.6.6>' },
    { name: 'X-Bad Name', value: 'x' },
    { name: 'X-Colon:Name', value: 'x' },
    ...numbered,
  ];
  await p.adapter.hangup(callId, { reasonHeader: 'Q.850;cause=16;text="bye"\r\nX-From-Reason: injected', headers: hostile });

  const bye = p.dbl.appRequests('BYE');
  assert.equal(bye.length, 1);
  const app = bye[0]!.parsed;
  // A Reason holding CR/LF is dropped (wireReasonHeader, the embedded adapter's rule too).
  const expected = [
    ...numbered.slice(0, 100),
    { name: 'Content-Length', value: '0' },
  ];
  // drachtio-server splits header lines on any CR or LF: this list is what it would apply.
  assert.deepEqual(app.headers, expected);
  assert.doesNotMatch(bye[0]!.text, /6\.6\.6\.6|evil|X-H101|[\r\n](X-Injected|X-From-Reason|Via):/i);
  const wire = parseSip(bye[0]!.wire!);
  assert.equal(wire.headers.filter((h) => h.name === 'Via').length, 1);
  assert.doesNotMatch(bye[0]!.wire!, /6\.6\.6\.6|X-Injected|X-From-Reason/);
  assert.deepEqual(p.dbl.violations, []);
});

test('a repeated header name goes out as separate header lines (against a drachtio-server test double)', async (t) => {
  const p = await startPair(t);
  const { callId } = await answeredInboundCall(p);
  await p.adapter.hangup(callId, {
    reasonHeader: null,
    headers: [
      { name: 'X-Tag', value: 'one' },
      { name: 'X-Other', value: 'mid' },
      { name: 'x-tag', value: 'two' },
    ],
  });
  const [bye] = p.dbl.appRequests('BYE');
  assert.deepEqual(bye!.parsed.headers, [
    { name: 'X-Tag', value: 'one' },
    { name: 'X-Other', value: 'mid' },
    { name: 'x-tag', value: 'two' },
    { name: 'Content-Length', value: '0' },
  ]);
});

test('the peer\'s BYE gives peerHungUp once and no BYE from us afterwards (against a drachtio-server test double)', async (t) => {
  const p = await startPair(t);
  const { call, callId } = await answeredInboundCall(p);
  const byeTxn = p.dbl.injectBye(call.dialogId, { reason: 'Q.850;cause=16;text="caller left"' });
  const hungUp = await p.waitEvent('peerHungUp', callId);
  assert.deepEqual(hungUp.info, { reasonHeader: 'Q.850;cause=16;text="caller left"' });
  const ok = await p.dbl.waitForAppMessage((m) => m.txnId === byeTxn && m.parsed.status === 200, 'the 200 OK to the peer\'s BYE');
  assert.ok(ok.wire);

  // The runtime may still ask to hang up (e.g. a bot hangup racing the caller): nothing is sent.
  await p.adapter.hangup(callId, { reasonHeader: buildReasonHeader('late'), headers: [{ name: 'X-Late', value: '1' }] });
  await p.adapter.hangup(callId, { reasonHeader: null, headers: [] });
  await sleep(100);
  assert.equal(p.dbl.appRequests('BYE').length, 0);
  assert.equal(p.rec.of('peerHungUp').length, 1);
  assert.equal(p.rec.of('failed').length, 0);
  assert.deepEqual(p.dbl.violations, []);
});

test('at most one BYE: concurrent and repeated hangups share it (against a drachtio-server test double)', async (t) => {
  const p = await startPair(t);
  const { callId } = await answeredInboundCall(p);
  const first = p.adapter.hangup(callId, { reasonHeader: buildReasonHeader('first'), headers: [] });
  const second = p.adapter.hangup(callId, { reasonHeader: buildReasonHeader('second'), headers: [] });
  await Promise.all([first, second]);
  await p.adapter.hangup(callId, { reasonHeader: buildReasonHeader('third'), headers: [] });
  await sleep(50);
  const byes = p.dbl.appRequests('BYE');
  assert.equal(byes.length, 1);
  assert.match(byes[0]!.text, /text="first"/);
});

test('a BYE that crosses the peer\'s BYE is not sent and hangup still resolves (against a drachtio-server test double)', async (t) => {
  const p = await startPair(t);
  const { call, callId } = await answeredInboundCall(p);
  // The peer's BYE reaches drachtio-server (which forgets the dialog) just before ours.
  p.dbl.injectBye(call.dialogId);
  await p.adapter.hangup(callId, { reasonHeader: buildReasonHeader('bot done'), headers: [] });
  await p.waitEvent('peerHungUp', callId);
  for (const bye of p.dbl.appRequests('BYE')) assert.equal(bye.wire, undefined, 'drachtio-server must not have sent a BYE');
  assert.equal(p.rec.of('peerHungUp', callId).length, 1);
});

test('CANCEL before answer gives peerCancelled; answer then fails and nothing is sent (against a drachtio-server test double)', async (t) => {
  const p = await startPair(t);
  const call = p.dbl.injectInvite({ sdp: CALLER_SDP });
  const { callId } = await p.waitEvent('offered');
  p.dbl.injectCancel(call);
  await p.waitEvent('peerCancelled', callId);
  // sofia (inside drachtio-server) answered the CANCEL 200 and the INVITE 487 itself
  assert.ok(p.dbl.wire.some((w) => w.direction === 'out' && w.text.startsWith('SIP/2.0 487 Request Terminated')));

  await assert.rejects(p.adapter.answer(callId, { sdp: OUR_SDP }), (err) => assertVoxError(err, ErrorCodes.CALL_ALREADY_ENDED, /cancelled/));
  await p.adapter.reject(callId, 486); // the caller is gone already: a no-op
  await p.adapter.hangup(callId, { reasonHeader: null, headers: [] }); // nothing to end: resolves, sends nothing
  await sleep(50);
  assert.equal(p.dbl.appMessages.filter((m) => m.parsed.status !== undefined).length, 0, 'no response from the app after the CANCEL');
  assert.equal(p.rec.of('peerCancelled').length, 1);
  assert.deepEqual(p.dbl.violations, []);
});

test('reject sends the final status with a sanitized reason phrase (against a drachtio-server test double)', async (t) => {
  const p = await startPair(t);
  const call = p.dbl.injectInvite({ sdp: CALLER_SDP });
  const { callId } = await p.waitEvent('offered');
  await assert.rejects(p.adapter.reject(callId, 200), (err) => assertVoxError(err, ErrorCodes.SIP_PARSE));
  await p.adapter.reject(callId, 486, 'Busy\r\nX-Injected: 1');
  const resp = await p.dbl.waitForAppMessage((m) => m.txnId === call.txnId && m.parsed.status === 486, 'the 486');
  assert.equal(resp.parsed.startLine, 'SIP/2.0 486 Busy  X-Injected: 1');
  assert.ok(!resp.parsed.headers.some((h) => /injected/i.test(h.name)));
  await assert.rejects(p.adapter.answer(callId), (err) => assertVoxError(err, ErrorCodes.CALL_ALREADY_ENDED));
});

for (const status of [486, 603, 480]) {
  test(`outbound call answered ${status} gives dialFailed with that status (against a drachtio-server test double)`, async (t) => {
    const p = await startPair(t);
    p.dbl.outboundScript = () => ({ provisional: [100, 180], final: status });
    await p.adapter.dial({
      callId: `out-${status}`,
      target: 'sip:callee@127.0.0.2:5062',
      from: 'sip:bot@voxledger.test',
      sdp: OUR_SDP,
      headers: [{ name: 'X-Campaign', value: 'spring' }, { name: 'Via', value: 'evil' }],
    });
    const failed = await p.waitEvent('dialFailed', `out-${status}`);
    assert.equal(failed.info.sipStatus, status);
    assert.ok(failed.info.reasonPhrase);

    const [invite] = p.dbl.appRequests('INVITE');
    assert.equal(invite!.parsed.startLine, 'INVITE sip:callee@127.0.0.2:5062 SIP/2.0');
    assert.deepEqual(
      invite!.parsed.headers.map((h) => h.name),
      ['From', 'X-Campaign', 'Content-Type', 'Content-Length'],
    );
    assert.equal(invite!.parsed.body, OUR_SDP);
    assert.equal(p.rec.of('answered').length, 0);
    await p.adapter.hangup(`out-${status}`, { reasonHeader: null, headers: [] }); // no dialog: resolves, sends nothing
    assert.equal(p.dbl.appRequests('BYE').length, 0);
    assert.deepEqual(p.dbl.violations, []);
  });
}

test('outbound call answered 200 gives answered with the callee\'s SDP, then our BYE (against a drachtio-server test double)', async (t) => {
  const p = await startPair(t);
  p.dbl.outboundScript = () => ({ provisional: [180], final: 200, sdp: CALLER_SDP });
  const rang: Array<{ callId: string; sipStatus: number }> = [];
  p.rec.events.ringing = (callId, info) => rang.push({ callId, sipStatus: info.sipStatus });
  await p.adapter.dial({ callId: 'out-ok', target: 'sip:callee@127.0.0.2:5062', from: '"Bot" <sip:bot@voxledger.test>', sdp: OUR_SDP });
  const answered = await p.waitEvent('answered', 'out-ok');
  assert.deepEqual(answered.info, { sipStatus: 200, sdp: CALLER_SDP });
  assert.deepEqual(rang, [{ callId: 'out-ok', sipStatus: 180 }], 'the 180 is reported as ringing, once');
  const ack = await p.dbl.waitForAppMessage((m) => m.parsed.method === 'ACK', 'the ACK');
  assert.ok(ack.wire, 'ACK sent');
  await p.adapter.hangup('out-ok', { reasonHeader: buildReasonHeader('done'), headers: [{ name: 'X-Result', value: 'ok' }] });
  const [bye] = p.dbl.appRequests('BYE');
  assert.equal(bye!.dialogId, p.dbl.outboundInvites[0]!.dialogId);
  assert.equal(parseSip(bye!.wire!).startLine, 'BYE sip:callee@127.0.0.2:5062 SIP/2.0');
  assert.deepEqual(p.dbl.violations, []);
});

test('outbound: the callee\'s BYE gives peerHungUp (against a drachtio-server test double)', async (t) => {
  const p = await startPair(t);
  p.dbl.outboundScript = () => ({ final: 200, sdp: CALLER_SDP });
  await p.adapter.dial({ callId: 'out-peer-bye', target: 'sip:callee@127.0.0.2:5062', from: 'sip:bot@voxledger.test', sdp: OUR_SDP });
  await p.waitEvent('answered', 'out-peer-bye');
  await p.dbl.waitForAppMessage((m) => m.parsed.method === 'ACK', 'the ACK');
  p.dbl.injectBye(p.dbl.outboundInvites[0]!.dialogId);
  await p.waitEvent('peerHungUp', 'out-peer-bye');
  await p.adapter.hangup('out-peer-bye', { reasonHeader: null, headers: [] });
  assert.equal(p.dbl.appRequests('BYE').length, 0);
});

test('ring timeout: cancel() CANCELs the ringing INVITE and the 487 arrives as dialFailed (against a drachtio-server test double)', async (t) => {
  const p = await startPair(t);
  p.dbl.outboundScript = () => ({ provisional: [100, 180], final: null });
  await p.adapter.dial({ callId: 'out-ring', target: 'sip:callee@127.0.0.2:5062', from: 'sip:bot@voxledger.test', sdp: OUR_SDP });
  await p.dbl.until(() => p.dbl.wire.find((w) => w.direction === 'in' && w.text.startsWith('SIP/2.0 180')), 'ringing');
  await sleep(50);
  assert.equal(p.rec.log.length, 0, 'nothing final while ringing');

  await p.adapter.cancel('out-ring');
  const failed = await p.waitEvent('dialFailed', 'out-ring');
  assert.equal(failed.info.sipStatus, 487);
  const cancels = p.dbl.appRequests('CANCEL');
  assert.equal(cancels.length, 1);
  assert.equal(cancels[0]!.txnId, p.dbl.outboundInvites[0]!.txnId, 'the CANCEL names the INVITE transaction');
  assert.ok(cancels[0]!.wire);
  await p.adapter.cancel('out-ring'); // idempotent
  assert.equal(p.dbl.appRequests('CANCEL').length, 1);
  assert.deepEqual(p.dbl.violations, []);
});

test('cancel() right after dial(), before any response, still ends in dialFailed 487 (against a drachtio-server test double)', async (t) => {
  const p = await startPair(t);
  p.dbl.outboundScript = () => ({ final: null });
  await p.adapter.dial({ callId: 'out-quick', target: 'sip:callee@127.0.0.2:5062', from: 'sip:bot@voxledger.test', sdp: OUR_SDP });
  await p.adapter.cancel('out-quick');
  const failed = await p.waitEvent('dialFailed', 'out-quick');
  assert.equal(failed.info.sipStatus, 487);
});

test('wrong secret: start rejects with a clear VoxError and does not keep reconnecting (against a drachtio-server test double)', async (t) => {
  const dbl = await DrachtioServerDouble.start({ secret: SECRET });
  t.after(() => dbl.close());
  const adapter = new DrachtioSipAdapter({ host: '127.0.0.1', port: dbl.port, secret: 'not-the-secret', connectTimeoutMs: 3_000 });
  const started = Date.now();
  await assert.rejects(adapter.start(new EventRecorder().events), (err) =>
    assertVoxError(err, ErrorCodes.CONFIG_INVALID, /refused the shared secret/),
  );
  assert.ok(Date.now() - started < 2_000, 'fails fast, not at the connect timeout');
  assert.deepEqual(dbl.authAttempts, [{ secret: 'not-the-secret', ok: false }]);
  await sleep(700); // drachtio-srf's first retry would come after ~255 ms
  assert.equal(dbl.connectionCount, 1);
  assert.equal(dbl.authAttempts.length, 1);
  await adapter.stop();
});

test('no drachtio-server listening: start rejects with VOX_SIP_TRANSPORT at the connect timeout (against a drachtio-server test double)', async (t) => {
  // Take a free port and close it again: nothing listens there.
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const adapter = new DrachtioSipAdapter({ host: '127.0.0.1', port, secret: SECRET, connectTimeoutMs: 400 });
  t.after(() => adapter.stop());
  await assert.rejects(adapter.start(new EventRecorder().events), (err) =>
    assertVoxError(err, ErrorCodes.SIP_TRANSPORT, new RegExp(`127\\.0\\.0\\.1:${port}.*ECONNREFUSED`)),
  );
});

test('server gone: live calls get failed, requests get clear errors, no crash, and calls work again after reconnect (against a drachtio-server test double)', async (t) => {
  const p = await startPair(t, { reconnectMaxDelayMs: 200 });
  const { callId } = await answeredInboundCall(p);
  p.dbl.outboundScript = () => ({ provisional: [180], final: null });
  await p.adapter.dial({ callId: 'out-lost', target: 'sip:callee@127.0.0.2:5062', from: 'sip:bot@voxledger.test', sdp: OUR_SDP });
  const connectionsBefore = p.dbl.connectionCount;

  p.dbl.acceptConnections = false; // drachtio-server is down: reconnect attempts are refused
  p.dbl.dropClients();
  const failed = await p.waitEvent('failed', callId);
  assert.equal(failed.info.code, ErrorCodes.SIP_TRANSPORT);
  assert.match(failed.info.message, /drachtio-server/);
  assert.equal((await p.waitEvent('failed', 'out-lost')).info.code, ErrorCodes.SIP_TRANSPORT);

  await assert.rejects(p.adapter.hangup(callId, { reasonHeader: null, headers: [] }), (err) => assertVoxError(err, ErrorCodes.SIP_TRANSPORT));
  await assert.rejects(
    p.adapter.dial({ callId: 'out-while-down', target: 'sip:callee@127.0.0.2:5062', from: 'sip:bot@voxledger.test' }),
    (err) => assertVoxError(err, ErrorCodes.SIP_TRANSPORT, /not connected/),
  );
  await p.dbl.until(() => (p.dbl.connectionCount > connectionsBefore ? true : undefined), 'a refused reconnect attempt');
  assert.equal(p.rec.of('failed').length, 2, 'failed once per call, not once per reconnect attempt');

  // drachtio-server is back: drachtio-srf reconnects by itself and routes INVITEs again.
  p.dbl.acceptConnections = true;
  await p.dbl.until(() => (p.dbl.connectionCount > connectionsBefore && p.dbl.clientsRouting('invite') > 0 ? true : undefined), 'the reconnect', 5_000);
  p.dbl.injectInvite({ sdp: CALLER_SDP });
  const again = await p.dbl.until(() => p.rec.of('offered').find((e) => e.callId !== callId), 'a new offer after reconnect');
  await p.adapter.answer(again.callId, { sdp: OUR_SDP });
  await p.waitEvent('answered', again.callId);
  assert.equal(p.rec.of('failed').length, 2);
});

test('no ACK for our 200 OK (Timer H): drachtio-server\'s own BYE gives failed (against a drachtio-server test double)', async (t) => {
  const p = await startPair(t);
  const call = p.dbl.injectInvite({ sdp: CALLER_SDP });
  const { callId } = await p.waitEvent('offered');
  await p.adapter.answer(callId, { sdp: OUR_SDP });
  p.dbl.ackTimeout(call);
  const failed = await p.waitEvent('failed', callId);
  assert.equal(failed.info.code, ErrorCodes.SIP_TIMEOUT);
  assert.match(failed.info.message, /ACK/);
  assert.equal(p.rec.of('peerHungUp').length, 0);
  await assert.rejects(p.adapter.hangup(callId, { reasonHeader: null, headers: [] }), (err) => assertVoxError(err, ErrorCodes.SIP_TRANSPORT));
  assert.equal(p.dbl.appRequests('BYE').length, 0);
});

test('OPTIONS pings are answered 200 OK (against a drachtio-server test double)', async (t) => {
  const p = await startPair(t);
  const txn = p.dbl.injectOptions();
  const ok = await p.dbl.waitForAppMessage((m) => m.txnId === txn, 'the answer to OPTIONS');
  assert.equal(ok.parsed.status, 200);
});

test('an INVITE without Contact is refused 400 and not offered (against a drachtio-server test double)', async (t) => {
  const p = await startPair(t);
  const call = p.dbl.injectInvite({ contact: false });
  const resp = await p.dbl.waitForAppMessage((m) => m.txnId === call.txnId, 'the 400');
  assert.equal(resp.parsed.status, 400);
  await sleep(30);
  assert.equal(p.rec.of('offered').length, 0);
});

test('a throwing event handler does not break the adapter (against a drachtio-server test double)', async (t) => {
  const p = await startPair(t);
  const original = p.rec.events.offered;
  let thrown = 0;
  p.rec.events.offered = (offer) => {
    original(offer);
    thrown++;
    throw new Error('handler bug');
  };
  const { call, callId } = await answeredInboundCall(p);
  assert.equal(thrown, 1);
  p.dbl.injectBye(call.dialogId);
  await p.waitEvent('peerHungUp', callId);
});

test('argument errors are VoxErrors with codes (against a drachtio-server test double)', async (t) => {
  const p = await startPair(t);
  await assert.rejects(p.adapter.answer('nope'), (err) => assertVoxError(err, ErrorCodes.CALL_NOT_FOUND));
  await assert.rejects(p.adapter.hangup('nope', { reasonHeader: null, headers: [] }), (err) => assertVoxError(err, ErrorCodes.CALL_NOT_FOUND));
  await assert.rejects(p.adapter.cancel('nope'), (err) => assertVoxError(err, ErrorCodes.CALL_NOT_FOUND));
  await assert.rejects(p.adapter.dial({ callId: 'x1', target: 'sip:a b@host', from: 'sip:bot@h' }), (err) => assertVoxError(err, ErrorCodes.SIP_PARSE));
  await assert.rejects(p.adapter.dial({ callId: 'x2', target: 'http://host', from: 'sip:bot@h' }), (err) => assertVoxError(err, ErrorCodes.SIP_PARSE));
  p.dbl.injectInvite({ sdp: CALLER_SDP });
  const { callId } = await p.waitEvent('offered');
  await assert.rejects(p.adapter.hangup(callId, { reasonHeader: null, headers: [] }), (err) => assertVoxError(err, ErrorCodes.SIP_NO_DIALOG, /reject/));
  await assert.rejects(p.adapter.cancel(callId), (err) => assertVoxError(err, ErrorCodes.SIP_NO_DIALOG));
  assert.throws(() => new DrachtioSipAdapter({ host: '127.0.0.1', port: 0, secret: 's' }), (err) => assertVoxError(err, ErrorCodes.CONFIG_INVALID));
  assert.throws(() => new DrachtioSipAdapter({ host: '127.0.0.1', port: 9022, secret: 'a|b' }), (err) => assertVoxError(err, ErrorCodes.CONFIG_INVALID));
});
