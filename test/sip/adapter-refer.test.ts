/**
 * The embedded adapter's REFER and the NOTIFYs of its subscription, byte by byte from a raw UDP
 * peer: what goes on the wire (Refer-To, Referred-By, Contact, the bot's headers after the
 * wire check), the REFER's response and each NOTIFY's sipfrag reported, garbage NOTIFYs answered
 * and not reported, 489 for another event package, 481 with no REFER of ours or after the
 * subscription ended, REFER on a dialog that is gone, a REFER nobody answers (Timer F).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawPeer, RecordingEvents, header, headers, inDialog, inviteFrom, sleep, startAdapter, tagOf } from './helpers.ts';
import type { TransferReport } from '../../src/sip/port.ts';
import { ErrorCodes, isVoxError } from '../../src/domain/errors.ts';

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

class TransferEvents extends RecordingEvents {
  readonly reports: Array<{ callId: string } & TransferReport> = [];
  transferProgress(callId: string, report: TransferReport): void {
    this.reports.push({ callId, ...report });
  }
}

async function setup() {
  const events = new TransferEvents();
  const { adapter, port, logs } = await startAdapter(events);
  const peer = await RawPeer.open();
  const sipCallId = 'refer-1@test';
  await peer.send(inviteFrom(peer, port, { callId: sipCallId }), port);
  await events.waitFor((e) => e.some((x) => x.type === 'offered'), 2_000, 'offered');
  const callId = events.of('offered')[0]!.offer.callId;
  await adapter.answer(callId);
  const [ok] = await peer.waitFor(/^SIP\/2\.0 200/);
  const toTag = tagOf(header(ok!, 'To'));
  await peer.send(inDialog(peer, port, 'ACK', { toTag, branch: 'z9hG4bKack1', cseq: 1, callId: sipCallId }), port);
  await sleep(20);
  let cseq = 1;
  const notify = (o: { event?: string; state?: string; contentType?: string; body: string; branch: string }) =>
    [
      `NOTIFY sip:bot@127.0.0.1:${port} SIP/2.0`,
      `Via: SIP/2.0/UDP ${peer.host}:${peer.port};branch=${o.branch};rport`,
      `From: <sip:peer@${peer.host}>;tag=peertag`,
      `To: <sip:bot@127.0.0.1>;tag=${toTag}`,
      `Call-ID: ${sipCallId}`,
      `CSeq: ${++cseq} NOTIFY`,
      `Contact: <sip:peer@${peer.host}:${peer.port}>`,
      'Max-Forwards: 70',
      ...(o.event === '' ? [] : [`Event: ${o.event ?? 'refer'}`]),
      `Subscription-State: ${o.state ?? 'active;expires=60'}`,
      `Content-Type: ${o.contentType ?? 'message/sipfrag;version=2.0'}`,
      `Content-Length: ${Buffer.byteLength(o.body)}`,
      '',
      o.body,
    ].join('\r\n');
  const answerTo = async (branch: string) => (await peer.waitUntil((d) => d.startLine.startsWith('SIP/2.0') && (header(d, 'Via') ?? '').includes(branch), `response to ${branch}`)).startLine;
  return {
    events, adapter, port, logs, peer, callId, sipCallId, toTag, notify, answerTo,
    async close() {
      await adapter.stop();
      await peer.close();
    },
  };
}

test('REFER on the wire: Refer-To <target>, Referred-By, Contact, the bot\'s headers after the wire check; 202 then NOTIFYs reported; garbage answered and not reported', async () => {
  const t = await setup();
  try {
    // A NOTIFY before any REFER of ours: no subscription.
    await t.peer.send(t.notify({ body: 'SIP/2.0 200 OK', branch: 'z9hG4bKn0' }), t.port);
    assert.equal(await t.answerTo('z9hG4bKn0'), 'SIP/2.0 481 Subscription Does Not Exist');

    const outcome = await t.adapter.refer(t.callId, {
      target: 'sip:agent@pbx.example.com;user=phone',
      referredBy: 'sip:bot@voxledger.example',
      headers: [{ name: 'X-Case', value: '42' }, { name: 'X-Evil', value: 'a\r\nVia: SIP/2.0/UDP 6.6.6.6' }, { name: 'Refer-To', value: '<sip:other@x>' }],
    });
    assert.equal(outcome, 'sent');
    const [refer] = await t.peer.waitFor(/^REFER /);
    assert.match(refer!.startLine, new RegExp(`^REFER sip:peer@${t.peer.host.replace(/\./g, '\\.')}:${t.peer.port} SIP/2\\.0$`), 'to the remote target');
    assert.deepEqual(headers(refer!, 'Refer-To'), ['<sip:agent@pbx.example.com;user=phone>']);
    assert.deepEqual(headers(refer!, 'Referred-By'), ['<sip:bot@voxledger.example>']);
    assert.deepEqual(headers(refer!, 'X-Case'), ['42']);
    assert.deepEqual(headers(refer!, 'X-Evil'), []);
    assert.ok(!refer!.text.includes('6.6.6.6'), 'nothing injected');
    assert.match(header(refer!, 'Contact')!, /^<sip:127\.0\.0\.1:\d+>$/);
    assert.equal(tagOf(header(refer!, 'From')), t.toTag);
    assert.match(header(refer!, 'CSeq')!, /^\d+ REFER$/);

    // 202 Accepted for the REFER.
    const resp = [
      'SIP/2.0 202 Accepted', `Via: ${header(refer!, 'Via')}`, `From: ${header(refer!, 'From')}`, `To: ${header(refer!, 'To')}`,
      `Call-ID: ${header(refer!, 'Call-ID')}`, `CSeq: ${header(refer!, 'CSeq')}`, 'Content-Length: 0', '', '',
    ].join('\r\n');
    await t.peer.send(resp, t.port);
    await until(() => t.events.reports.length >= 1, 2_000, 'refer-response');
    assert.deepEqual(t.events.reports[0], { callId: t.callId, source: 'refer-response', sipStatus: 202, reason: 'Accepted' });

    await t.peer.send(t.notify({ body: 'SIP/2.0 100 Trying\r\n', branch: 'z9hG4bKn1' }), t.port);
    assert.equal(await t.answerTo('z9hG4bKn1'), 'SIP/2.0 200 OK');
    // Garbage bodies and wrong content types: 200, nothing reported.
    await t.peer.send(t.notify({ body: 'hello\u0000\u00ff garbage', branch: 'z9hG4bKn2' }), t.port);
    assert.equal(await t.answerTo('z9hG4bKn2'), 'SIP/2.0 200 OK');
    await t.peer.send(t.notify({ body: 'SIP/2.0 200 OK', contentType: 'text/plain', branch: 'z9hG4bKn3' }), t.port);
    assert.equal(await t.answerTo('z9hG4bKn3'), 'SIP/2.0 200 OK');
    await t.peer.send(t.notify({ body: 'SIP/2.0 9999 Nope', branch: 'z9hG4bKn4' }), t.port);
    assert.equal(await t.answerTo('z9hG4bKn4'), 'SIP/2.0 200 OK');
    // Another event package: 489.
    await t.peer.send(t.notify({ event: 'presence', body: 'SIP/2.0 200 OK', branch: 'z9hG4bKn5' }), t.port);
    assert.equal(await t.answerTo('z9hG4bKn5'), 'SIP/2.0 489 Bad Event');
    await t.peer.send(t.notify({ body: 'SIP/2.0 180 Ringing', branch: 'z9hG4bKn6' }), t.port);
    assert.equal(await t.answerTo('z9hG4bKn6'), 'SIP/2.0 200 OK');
    await t.peer.send(t.notify({ body: 'SIP/2.0 200 OK\r\nContent-Length: 0\r\n', state: 'terminated;reason=noresource', branch: 'z9hG4bKn7' }), t.port);
    assert.equal(await t.answerTo('z9hG4bKn7'), 'SIP/2.0 200 OK');
    await sleep(20);
    assert.deepEqual(t.events.reports.slice(1).map((r) => [r.source, r.sipStatus, r.reason]), [['notify', 100, 'Trying'], ['notify', 180, 'Ringing'], ['notify', 200, 'OK']]);
    // The subscription has ended: a late NOTIFY gets 481.
    await t.peer.send(t.notify({ body: 'SIP/2.0 200 OK', branch: 'z9hG4bKn8' }), t.port);
    assert.equal(await t.answerTo('z9hG4bKn8'), 'SIP/2.0 481 Subscription Does Not Exist');
    assert.equal(t.events.reports.length, 4);
  } finally {
    await t.close();
  }
});

test('a hostile target is refused before the wire (VOX_SIP_HEADER_REJECTED); REFER refused with 603 is reported; no response at all is reported as 0 (Timer F)', async () => {
  const t = await setup();
  try {
    await assert.rejects(t.adapter.refer(t.callId, { target: 'sip:a@b>\r\nVia: x', headers: [] }), (e) => isVoxError(e, ErrorCodes.SIP_HEADER_REJECTED));
    await sleep(30);
    assert.equal(t.peer.matching(/^REFER /).length, 0);

    await t.adapter.refer(t.callId, { target: 'tel:+14155550123', headers: [] });
    const [refer] = await t.peer.waitFor(/^REFER /);
    assert.deepEqual(headers(refer!, 'Refer-To'), ['<tel:+14155550123>']);
    assert.deepEqual(headers(refer!, 'Referred-By'), [], 'no Referred-By unless the bot gives one');
    const resp = ['SIP/2.0 603 Decline', `Via: ${header(refer!, 'Via')}`, `From: ${header(refer!, 'From')}`, `To: ${header(refer!, 'To')}`, `Call-ID: ${header(refer!, 'Call-ID')}`, `CSeq: ${header(refer!, 'CSeq')}`, 'Content-Length: 0', '', ''].join('\r\n');
    await t.peer.send(resp, t.port);
    await until(() => t.events.reports.length >= 1, 2_000, 'refer-response');
    assert.deepEqual(t.events.reports[0], { callId: t.callId, source: 'refer-response', sipStatus: 603, reason: 'Decline' });
    // NOTIFY after a refused REFER: no subscription.
    await t.peer.send(t.notify({ body: 'SIP/2.0 200 OK', branch: 'z9hG4bKm1' }), t.port);
    assert.equal(await t.answerTo('z9hG4bKm1'), 'SIP/2.0 481 Subscription Does Not Exist');

    // A REFER nobody answers: retransmitted, then Timer F (64*T1 = 3.2 s here) reports 0.
    await t.adapter.refer(t.callId, { target: 'sip:x@y', headers: [] });
    await until(() => t.events.reports.length >= 2, 6_000, 'Timer F');
    assert.deepEqual(t.events.reports[1], { callId: t.callId, source: 'refer-response', sipStatus: 0, reason: 'no response to the REFER' });
    assert.ok(t.peer.matching(/^REFER sip/).length >= 3, 'retransmitted over UDP');
  } finally {
    await t.close();
  }
});

test('REFER on a dialog that ended: after the peer\'s BYE `peer-ended` (nothing sent), after our BYE and for unknown calls VOX_SIP_NO_DIALOG', async () => {
  const t = await setup();
  try {
    await t.peer.send(inDialog(t.peer, t.port, 'BYE', { toTag: t.toTag, branch: 'z9hG4bKbye1', cseq: 5, callId: t.sipCallId }), t.port);
    await t.events.waitFor((e) => e.some((x) => x.type === 'peerHungUp'), 2_000, 'peerHungUp');
    assert.equal(await t.adapter.refer(t.callId, { target: 'sip:x@y', headers: [] }), 'peer-ended');
    await assert.rejects(t.adapter.refer('no-such-call', { target: 'sip:x@y', headers: [] }), (e) => isVoxError(e, ErrorCodes.SIP_NO_DIALOG));
    await sleep(30);
    assert.equal(t.peer.matching(/^REFER /).length, 0);
  } finally {
    await t.close();
  }
  const u = await setup();
  try {
    await u.adapter.hangup(u.callId, { reasonHeader: null, headers: [] });
    await assert.rejects(u.adapter.refer(u.callId, { target: 'sip:x@y', headers: [] }), (e) => isVoxError(e, ErrorCodes.SIP_NO_DIALOG));
    assert.equal(u.peer.matching(/^REFER /).length, 0);
  } finally {
    await u.close();
  }
});
