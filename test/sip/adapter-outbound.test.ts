/**
 * Outbound calls against a raw UDP socket playing the callee: Timer A/B, CANCEL only after a
 * provisional, ACK and BYE routing through Record-Route to the Contact, 2xx retransmissions,
 * forked 2xx, a 2xx racing our CANCEL, and a BYE from the callee.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawPeer, RecordingEvents, header, headers, respond, sleep, startAdapter, tagOf } from './helpers.ts';
import { BYE_CSEQ_OFFSET } from '../../src/sip/embedded/dialog.ts';

const ANSWER_SDP = 'v=0\r\no=callee 1 1 IN IP4 127.0.0.3\r\ns=-\r\nc=IN IP4 127.0.0.3\r\nt=0 0\r\nm=audio 41000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';

async function setup(t1Ms = 50) {
  const events = new RecordingEvents();
  const { adapter, port, logs } = await startAdapter(events, { timers: { t1Ms, t2Ms: 8 * t1Ms, t4Ms: 10 * t1Ms } });
  const peer = await RawPeer.open();
  return {
    events,
    adapter,
    port,
    logs,
    peer,
    target: `sip:callee@${peer.host}:${peer.port}`,
    async close() {
      await adapter.stop();
      await peer.close();
    },
  };
}

test('no response at all: INVITE retransmitted (Timer A), dialFailed({sipStatus: 0}) at Timer B = 64*T1 (exact schedule: timers-simulated-clock)', async () => {
  const t = await setup(20);
  try {
    const t0 = Date.now();
    await t.adapter.dial({ callId: 'silent', target: t.target, from: 'voxledger' });
    await t.events.waitFor((e) => e.some((x) => x.type === 'dialFailed'), 5_000, 'dialFailed');
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 64 * 20 - 5 && elapsed < 64 * 20 + 1_000, `Timer B fired after ${elapsed} ms`);
    assert.equal(t.events.of('dialFailed')[0]!.info.sipStatus, 0);
    const invites = t.peer.matching(/^INVITE /);
    // Sent at 0, 20, 60, 140, 300, 620 (and 1260 ms): 6 or 7 copies, all identical.
    assert.ok(invites.length >= 5 && invites.length <= 7, `${invites.length} copies`);
    assert.ok(invites.every((i) => i.text === invites[0]!.text));
  } finally {
    await t.close();
  }
});

test('cancel before any provisional waits; the 180 releases the CANCEL; 200 to CANCEL + 487 → ACK on the INVITE branch → dialFailed(487)', async () => {
  const t = await setup();
  try {
    await t.adapter.dial({ callId: 'c1', target: t.target, from: 'voxledger' });
    const [invite] = await t.peer.waitFor(/^INVITE /);
    await t.adapter.cancel('c1');
    await sleep(120);
    assert.equal(t.peer.matching(/^CANCEL /).length, 0, 'no CANCEL before a provisional response (RFC 3261 §9.1)');
    await t.peer.send(respond(invite!, '180 Ringing', { toTag: 'cal1' }), t.port);
    const [cancel] = await t.peer.waitFor(/^CANCEL /);
    assert.equal(cancel!.startLine, `CANCEL ${t.target} SIP/2.0`);
    assert.equal(header(cancel!, 'Via'), header(invite!, 'Via'), 'same Via and branch as the INVITE');
    assert.equal(header(cancel!, 'CSeq'), header(invite!, 'CSeq')!.replace('INVITE', 'CANCEL'));
    assert.equal(header(cancel!, 'To'), header(invite!, 'To'), 'CANCEL To has no tag');
    await t.peer.send(respond(cancel!, '200 OK', { toTag: 'cal1' }), t.port);
    await t.peer.send(respond(invite!, '487 Request Terminated', { toTag: 'cal1' }), t.port);
    const [ack] = await t.peer.waitFor(/^ACK /);
    assert.equal(header(ack!, 'Via'), header(invite!, 'Via'));
    assert.equal(tagOf(header(ack!, 'To')), 'cal1');
    await t.events.waitFor((e) => e.some((x) => x.type === 'dialFailed'), 2_000, 'dialFailed');
    assert.deepEqual(t.events.of('dialFailed').map((e) => e.info.sipStatus), [487]);
    // The 487 retransmitted (our ACK lost) gets the ACK again.
    await t.peer.send(respond(invite!, '487 Request Terminated', { toTag: 'cal1' }), t.port);
    await t.peer.waitFor(/^ACK /, 2);
    assert.equal(t.events.of('dialFailed').length, 1);
  } finally {
    await t.close();
  }
});

test('2xx with Record-Route: the ACK goes to the first route with Route headers, Request-URI = Contact; 2xx retransmission re-ACKed; callee BYE → peerHungUp', async () => {
  const t = await setup();
  try {
    await t.adapter.dial({ callId: 'rr', target: t.target, from: 'voxledger', sdp: 'v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0\r\n' });
    const [invite] = await t.peer.waitFor(/^INVITE /);
    assert.match(invite!.body, /m=audio 5004 RTP\/AVP 0/, 'the runtime SDP is sent as is');
    const ok = respond(invite!, '200 OK', {
      toTag: 'callee1',
      extra: [`Record-Route: <sip:proxy2.invalid;lr>, <sip:${t.peer.host}:${t.peer.port};lr>`, `Contact: <sip:callee-contact@${t.peer.host}:${t.peer.port}>`],
      body: ANSWER_SDP,
    });
    await t.peer.send(ok, t.port);
    const [ack] = await t.peer.waitFor(/^ACK /);
    assert.equal(ack!.startLine, `ACK sip:callee-contact@${t.peer.host}:${t.peer.port} SIP/2.0`);
    assert.deepEqual(headers(ack!, 'Route'), [`<sip:${t.peer.host}:${t.peer.port};lr>`, '<sip:proxy2.invalid;lr>'], 'route set is the Record-Route reversed (RFC 3261 §12.1.2)');
    assert.notEqual(/branch=([^;]+)/.exec(header(ack!, 'Via')!)![1], /branch=([^;]+)/.exec(header(invite!, 'Via')!)![1], 'a 2xx ACK is a new transaction');
    assert.equal(header(ack!, 'CSeq'), header(invite!, 'CSeq')!.replace('INVITE', 'ACK'));
    await t.events.waitFor((e) => e.some((x) => x.type === 'answered'), 1_000, 'answered');
    assert.equal(t.events.of('answered')[0]!.info.sdp, ANSWER_SDP);
    await t.peer.send(ok, t.port);
    const acks = await t.peer.waitFor(/^ACK /, 2);
    assert.equal(acks[1]!.text, acks[0]!.text, 'the retransmitted 2xx gets the same ACK');
    assert.equal(t.events.of('answered').length, 1);
    // The callee hangs up.
    const seq = Number(header(invite!, 'CSeq')!.split(' ')[0]);
    const bye = [
      `BYE sip:voxledger@127.0.0.1:${t.port} SIP/2.0`,
      `Via: SIP/2.0/UDP ${t.peer.host}:${t.peer.port};branch=z9hG4bKcalleebye`,
      `From: ${header(invite!, 'To')};tag=callee1`,
      `To: ${header(invite!, 'From')}`,
      `Call-ID: ${header(invite!, 'Call-ID')}`,
      'CSeq: 1 BYE',
      'Max-Forwards: 70',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    await t.peer.send(bye, t.port);
    await t.peer.waitFor(/^SIP\/2\.0 200 OK$/);
    await t.events.waitFor((e) => e.some((x) => x.type === 'peerHungUp'), 1_000, 'peerHungUp');
    assert.equal(t.events.of('peerHungUp')[0]!.callId, 'rr');
    assert.ok(seq > 0);
    assert.equal(await t.adapter.hangup('rr', { reasonHeader: null, headers: [] }), 'peer-ended');
    await sleep(50);
    assert.equal(t.peer.matching(/^BYE /).length, 0, 'no BYE after the callee ended the dialog');
  } finally {
    await t.close();
  }
});

test('a second fork answering is ACKed and ended with BYE; answered fires once; our hangup BYE carries the dialog\'s fixed BYE CSeq (recorded CSeq + BYE_CSEQ_OFFSET)', async () => {
  const t = await setup();
  try {
    await t.adapter.dial({ callId: 'fork', target: t.target, from: 'voxledger' });
    const [invite] = await t.peer.waitFor(/^INVITE /);
    const contact = `Contact: <sip:c@${t.peer.host}:${t.peer.port}>`;
    await t.peer.send(respond(invite!, '200 OK', { toTag: 'forkA', extra: [contact], body: ANSWER_SDP }), t.port);
    await t.peer.send(respond(invite!, '200 OK', { toTag: 'forkB', extra: [contact], body: ANSWER_SDP }), t.port);
    const [bye] = await t.peer.waitFor(/^BYE /);
    assert.equal(tagOf(header(bye!, 'To')), 'forkB');
    assert.equal(t.peer.matching(/^ACK /).length, 2);
    await t.peer.send(respond(bye!, '200 OK'), t.port);
    assert.equal(t.events.of('answered').length, 1);
    await t.adapter.hangup('fork', { reasonHeader: 'Q.850;cause=16;text="bye"', headers: [] });
    const byeA = await t.peer.waitUntil((d) => d.startLine.startsWith('BYE ') && tagOf(header(d, 'To')) === 'forkA', 'BYE to fork A');
    const inviteSeq = Number(header(invite!, 'CSeq')!.split(' ')[0]);
    assert.equal(header(byeA, 'CSeq'), `${inviteSeq + BYE_CSEQ_OFFSET} BYE`);
    assert.equal(header(byeA, 'Reason'), 'Q.850;cause=16;text="bye"');
  } finally {
    await t.close();
  }
});

test('a 2xx that races our CANCEL is ACKed and ended with BYE (with the hangup Reason); dialFailed(487)', async () => {
  const t = await setup();
  try {
    await t.adapter.dial({ callId: 'race', target: t.target, from: 'voxledger' });
    const [invite] = await t.peer.waitFor(/^INVITE /);
    await t.peer.send(respond(invite!, '180 Ringing', { toTag: 'r1' }), t.port);
    await sleep(30);
    await t.adapter.hangup('race', { reasonHeader: 'Q.850;cause=16;text="ring timeout"', headers: [{ name: 'X-Why', value: 'timeout' }] });
    const [cancel] = await t.peer.waitFor(/^CANCEL /);
    await t.peer.send(respond(cancel!, '200 OK', { toTag: 'r1' }), t.port);
    await t.peer.send(respond(invite!, '200 OK', { toTag: 'r1', extra: [`Contact: <sip:c@${t.peer.host}:${t.peer.port}>`], body: ANSWER_SDP }), t.port);
    await t.peer.waitFor(/^ACK /);
    const [bye] = await t.peer.waitFor(/^BYE /);
    assert.equal(header(bye!, 'Reason'), 'Q.850;cause=16;text="ring timeout"');
    assert.equal(header(bye!, 'X-Why'), 'timeout');
    await t.events.waitFor((e) => e.some((x) => x.type === 'dialFailed'), 1_000, 'dialFailed');
    assert.deepEqual(t.events.of('dialFailed').map((e) => e.info.sipStatus), [487]);
    assert.equal(t.events.of('answered').length, 0);
  } finally {
    await t.close();
  }
});
