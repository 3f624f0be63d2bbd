/**
 * Inbound calls driven byte by byte from a raw UDP socket (no sipp): what the adapter puts on
 * the wire for INVITE, ACK, BYE (and its retransmission), re-INVITE, UPDATE, INFO, OPTIONS,
 * unknown methods, CANCEL, reject, media negotiation and the request checks a UAS must make.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawPeer, RecordingEvents, header, headers, inDialog, inviteFrom, sleep, startAdapter, tagOf, waitForLog } from './helpers.ts';

async function setup() {
  const events = new RecordingEvents();
  const { adapter, port, logs } = await startAdapter(events);
  const peer = await RawPeer.open();
  return {
    events,
    adapter,
    port,
    logs,
    peer,
    async close() {
      await adapter.stop();
      await peer.close();
    },
  };
}

/** INVITE → offered → answer → 200 → ACK; returns the adapter's To tag and our callId. */
async function establish(t: Awaited<ReturnType<typeof setup>>, callId = 'call-1@test') {
  await t.peer.send(inviteFrom(t.peer, t.port, { callId }), t.port);
  await t.events.waitFor((e) => e.some((x) => x.type === 'offered' && x.offer.sipCallId === callId), 2_000, 'offered');
  const offered = t.events.of('offered').find((x) => x.offer.sipCallId === callId)!;
  await t.adapter.answer(offered.offer.callId);
  const [ok] = await t.peer.waitFor(/^SIP\/2\.0 200/);
  const toTag = tagOf(header(ok!, 'To'));
  await t.peer.send(inDialog(t.peer, t.port, 'ACK', { toTag, branch: 'z9hG4bKack1', cseq: 1, callId }), t.port);
  return { toTag, callId: offered.offer.callId, ok: ok! };
}

test('INVITE: 100 Trying at once, one offered event with the request details; a retransmitted INVITE gets 100 again, no second offer', async () => {
  const t = await setup();
  try {
    const invite = inviteFrom(t.peer, t.port, { extra: ['X-Customer: 42', 'x-lower: yes'] });
    await t.peer.send(invite, t.port);
    const [trying] = await t.peer.waitFor(/^SIP\/2\.0 100 Trying$/);
    assert.equal(header(trying!, 'CSeq'), '1 INVITE');
    assert.equal(tagOf(header(trying!, 'To')), '', '100 Trying carries no To tag');
    assert.match(header(trying!, 'Via')!, new RegExp(`;rport=${t.peer.port}`), 'rport filled in (RFC 3581)');
    await t.events.waitFor((e) => e.length >= 1, 1_000, 'offered');
    const [offer] = t.events.of('offered');
    assert.equal(offer!.offer.to, 'bot');
    assert.equal(offer!.offer.from, `sip:peer@${t.peer.host}`);
    assert.equal(offer!.offer.sipCallId, 'call-1@test');
    assert.equal(offer!.offer.requestUri, `sip:bot@127.0.0.1:${t.port}`);
    assert.equal(offer!.offer.headers['x-customer'], '42');
    assert.equal(offer!.offer.headers['x-lower'], 'yes');
    assert.match(offer!.offer.sdp!, /^v=0/);
    await t.peer.send(invite, t.port);
    await t.peer.waitFor(/^SIP\/2\.0 100 Trying$/, 2);
    await sleep(50);
    assert.equal(t.events.of('offered').length, 1);
  } finally {
    await t.close();
  }
});

test('answer: 200 OK with To tag, Contact, Allow and a PCMU answer; retransmitted until the ACK, then silent', async () => {
  const t = await setup();
  try {
    await t.peer.send(inviteFrom(t.peer, t.port), t.port);
    await t.events.waitFor((e) => e.length >= 1, 2_000, 'offered');
    const callId = t.events.of('offered')[0]!.offer.callId;
    await t.adapter.answer(callId);
    const copies = await t.peer.waitFor(/^SIP\/2\.0 200 OK$/, 3, 2_000);
    const ok = copies[0]!;
    assert.ok(copies.every((c) => c.text === ok.text), 'retransmissions are identical');
    assert.ok(tagOf(header(ok, 'To')));
    assert.equal(header(ok, 'Contact'), `<sip:127.0.0.1:${t.port}>`);
    assert.match(header(ok, 'Allow')!, /INVITE.*BYE.*OPTIONS/);
    assert.equal(header(ok, 'Content-Type'), 'application/sdp');
    assert.match(ok.body, /\r\nc=IN IP4 127\.0\.0\.1\r\n/);
    assert.match(ok.body, /\r\nm=audio 9 RTP\/AVP 0\r\n/, 'PCMU only: PCMA was offered too but is not taken');
    assert.match(ok.body, /\r\na=rtpmap:0 PCMU\/8000\r\n/);
    assert.deepEqual(t.events.of('answered').map((e) => e.info.sipStatus), [200]);
    assert.equal(t.events.of('answered')[0]!.info.sdp, ok.body);
    await t.peer.send(inDialog(t.peer, t.port, 'ACK', { toTag: tagOf(header(ok, 'To')), branch: 'z9hG4bKack1', cseq: 1 }), t.port);
    await waitForLog(t.logs, 'ACK received');
    await sleep(30); // a copy already in flight
    const after = t.peer.matching(/^SIP\/2\.0 200 OK$/).length;
    await sleep(500);
    assert.equal(t.peer.matching(/^SIP\/2\.0 200 OK$/).length, after, 'no retransmission after the ACK');
  } finally {
    await t.close();
  }
});

test('BYE from the peer: 200 OK and peerHungUp once with its Reason; the retransmitted BYE gets the same 200 and no event; unknown dialog gets 481', async () => {
  const t = await setup();
  try {
    const { toTag, callId } = await establish(t);
    const bye = inDialog(t.peer, t.port, 'BYE', { toTag, branch: 'z9hG4bKbye1', cseq: 2, extra: ['Reason: Q.850;cause=16;text="bye now"'] });
    await t.peer.send(bye, t.port);
    await t.peer.waitUntil((d) => d.startLine === 'SIP/2.0 200 OK' && header(d, 'CSeq') === '2 BYE', '200 OK to the BYE');
    await t.events.waitFor((e) => e.some((x) => x.type === 'peerHungUp'), 1_000, 'peerHungUp');
    await t.peer.send(bye, t.port);
    await sleep(100);
    const oks = t.peer.received.filter((d) => header(d, 'CSeq') === '2 BYE');
    assert.equal(oks.length, 2);
    assert.equal(oks[1]!.text, oks[0]!.text, 'answered again from the transaction');
    assert.deepEqual(t.events.of('peerHungUp'), [{ type: 'peerHungUp', callId, info: { reasonHeader: 'Q.850;cause=16;text="bye now"' } }]);
    // Unknown dialog: 481.
    await t.peer.send(inDialog(t.peer, t.port, 'BYE', { toTag: 'nosuchtag', branch: 'z9hG4bKbye9', cseq: 2, callId: 'other@test' }), t.port);
    const [nf] = await t.peer.waitFor(/^SIP\/2\.0 481 /);
    assert.equal(header(nf!, 'Call-ID'), 'other@test');
    // hangup after the peer's BYE sends nothing.
    const before = t.peer.received.length;
    assert.equal(await t.adapter.hangup(callId, { reasonHeader: 'Q.850;cause=16', headers: [] }), 'peer-ended');
    await sleep(100);
    assert.equal(t.peer.received.length, before);
  } finally {
    await t.close();
  }
});

test('re-INVITE gets 200 with the same SDP (session refresh), UPDATE likewise, INFO and OPTIONS 200, MESSAGE 405, unknown 501', async () => {
  const t = await setup();
  try {
    const { toTag, ok } = await establish(t);
    const offer = 'v=0\r\no=peer 1 2 IN IP4 127.0.0.3\r\ns=-\r\nc=IN IP4 127.0.0.3\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n';
    await t.peer.send(inDialog(t.peer, t.port, 'INVITE', { toTag, branch: 'z9hG4bKre1', cseq: 2, body: offer }), t.port);
    const reOk = await t.peer.waitUntil((d) => d.startLine === 'SIP/2.0 200 OK' && header(d, 'CSeq') === '2 INVITE', '200 OK to the re-INVITE');
    assert.equal(reOk.body, ok.body, 'same SDP as the initial answer');
    assert.equal(tagOf(header(reOk, 'To')), toTag);
    await t.peer.send(inDialog(t.peer, t.port, 'ACK', { toTag, branch: 'z9hG4bKack2', cseq: 2 }), t.port);
    const expect = async (method: string, cseq: number, status: RegExp, body?: string) => {
      await t.peer.send(inDialog(t.peer, t.port, method, { toTag, branch: `z9hG4bK${method}${cseq}`, cseq, ...(body ? { body } : {}) }), t.port);
      const deadline = Date.now() + 2_000;
      for (;;) {
        const got = t.peer.received.find((d) => header(d, 'CSeq') === `${cseq} ${method}` && !/^SIP\/2\.0 1/.test(d.startLine));
        if (got) {
          assert.match(got.startLine, status, `${method}: ${got.startLine}`);
          return got;
        }
        if (Date.now() > deadline) throw new Error(`no final response to ${method}`);
        await sleep(10);
      }
    };
    const upd = await expect('UPDATE', 3, /^SIP\/2\.0 200 /, offer);
    assert.equal(upd.body, ok.body);
    await expect('INFO', 4, /^SIP\/2\.0 200 /);
    const opt = await expect('OPTIONS', 5, /^SIP\/2\.0 200 /);
    assert.match(header(opt, 'Allow')!, /UPDATE/);
    const msg = await expect('MESSAGE', 6, /^SIP\/2\.0 405 /);
    assert.match(header(msg, 'Allow')!, /INVITE/);
    await expect('FOO', 7, /^SIP\/2\.0 501 /);
    await expect('INFO', 1, /^SIP\/2\.0 500 /); // CSeq below the dialog's remote CSeq
    assert.equal(t.events.of('peerHungUp').length, 0);
    assert.equal(t.events.of('failed').length, 0);
  } finally {
    await t.close();
  }
});

test('out of dialog: OPTIONS 200 with Allow, BYE/INFO 481, REGISTER 405, unknown method 501, CANCEL without INVITE 481', async () => {
  const t = await setup();
  try {
    const req = (method: string, branch: string) =>
      [`${method} sip:bot@127.0.0.1:${t.port} SIP/2.0`, `Via: SIP/2.0/UDP ${t.peer.host}:${t.peer.port};branch=${branch}`, 'From: <sip:peer@x>;tag=a', 'To: <sip:bot@127.0.0.1>', `Call-ID: ood-${branch}`, `CSeq: 1 ${method}`, 'Max-Forwards: 70', 'Content-Length: 0', '', ''].join('\r\n');
    const cases: Array<[string, RegExp]> = [
      ['OPTIONS', /^SIP\/2\.0 200 OK$/],
      ['BYE', /^SIP\/2\.0 481 /],
      ['INFO', /^SIP\/2\.0 481 /],
      ['REGISTER', /^SIP\/2\.0 405 /],
      ['FROBNICATE', /^SIP\/2\.0 501 /],
      ['CANCEL', /^SIP\/2\.0 481 /],
    ];
    for (const [i, [method]] of cases.entries()) await t.peer.send(req(method, `z9hG4bKood${i}`), t.port);
    await t.peer.waitFor(/^SIP\/2\.0/, cases.length);
    for (const [i, [method, status]] of cases.entries()) {
      const got = t.peer.received.find((d) => header(d, 'Call-ID') === `ood-z9hG4bKood${i}`)!;
      assert.match(got.startLine, status, method);
    }
    const options = t.peer.received.find((d) => header(d, 'CSeq') === '1 OPTIONS')!;
    assert.match(header(options, 'Allow')!, /INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, NOTIFY/);
    assert.equal(t.events.events.length, 0);
  } finally {
    await t.close();
  }
});

test('reject(486): final response with To tag, retransmitted (Timer G) until the ACK, which is absorbed', async () => {
  const t = await setup();
  try {
    await t.peer.send(inviteFrom(t.peer, t.port), t.port);
    await t.events.waitFor((e) => e.length >= 1, 2_000, 'offered');
    await t.adapter.reject(t.events.of('offered')[0]!.offer.callId, 486, 'Busy\r\nX-Evil: 1');
    const copies = await t.peer.waitFor(/^SIP\/2\.0 486 /, 2, 2_000);
    assert.equal(copies[0]!.startLine, 'SIP/2.0 486 Busy  X-Evil: 1', 'a reason phrase cannot break the status line');
    const toTag = tagOf(header(copies[0]!, 'To'));
    assert.ok(toTag);
    const ack = [
      `ACK sip:bot@127.0.0.1:${t.port} SIP/2.0`,
      `Via: SIP/2.0/UDP ${t.peer.host}:${t.peer.port};branch=z9hG4bKinv1;rport`,
      `From: "Peer" <sip:peer@${t.peer.host}>;tag=peertag`,
      `To: <sip:bot@127.0.0.1>;tag=${toTag}`,
      'Call-ID: call-1@test',
      'CSeq: 1 ACK',
      'Max-Forwards: 70',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    await t.peer.send(ack, t.port);
    await waitForLog(t.logs, 'ACK for a non-2xx final response absorbed');
    await sleep(30); // a copy already in flight
    const n = t.peer.matching(/^SIP\/2\.0 486 /).length;
    await sleep(500);
    assert.equal(t.peer.matching(/^SIP\/2\.0 486 /).length, n, 'no retransmission after the ACK');
    await assert.rejects(t.adapter.reject(t.events.of('offered')[0]!.offer.callId, 200), /4xx-6xx/);
  } finally {
    await t.close();
  }
});

test('media: an INVITE without SDP gets our PCMU offer in the 200 (answer in the ACK); an offer without PCMU gets 488 and failed', async () => {
  const t = await setup();
  try {
    await t.peer.send(inviteFrom(t.peer, t.port, { sdp: null, callId: 'late@test' }), t.port);
    await t.events.waitFor((e) => e.length >= 1, 2_000, 'offered');
    const first = t.events.of('offered')[0]!.offer;
    assert.equal(first.sdp, undefined);
    await t.adapter.answer(first.callId);
    const [ok] = await t.peer.waitFor(/^SIP\/2\.0 200 OK$/);
    assert.match(ok!.body, /\r\nm=audio 9 RTP\/AVP 0 101\r\n/);
    assert.match(ok!.body, /\r\na=sendrecv\r\n/);
    const pcmaOnly = `v=0\r\no=p 1 1 IN IP4 ${t.peer.host}\r\ns=-\r\nc=IN IP4 ${t.peer.host}\r\nt=0 0\r\nm=audio 40000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n`;
    await t.peer.send(inviteFrom(t.peer, t.port, { sdp: pcmaOnly, callId: 'pcma@test', branch: 'z9hG4bKinv2' }), t.port);
    await t.events.waitFor((e) => e.filter((x) => x.type === 'offered').length >= 2, 2_000, 'second offer');
    const second = t.events.of('offered')[1]!.offer;
    await t.adapter.answer(second.callId);
    const [nah] = await t.peer.waitFor(/^SIP\/2\.0 488 /);
    assert.equal(header(nah!, 'Call-ID'), 'pcma@test');
    assert.deepEqual(t.events.of('failed').map((e) => [e.callId, e.info.code]), [[second.callId, 'VOX_SIP_PARSE']]);
  } finally {
    await t.close();
  }
});

test('request checks: Require → 420 with Unsupported, no Contact → 400, non-SDP body → 415, merged request → 482, hangup before answer → 480', async () => {
  const t = await setup();
  try {
    await t.peer.send(inviteFrom(t.peer, t.port, { callId: 'req@test', branch: 'z9hG4bKr1', extra: ['Require: 100rel'] }), t.port);
    const [bad] = await t.peer.waitFor(/^SIP\/2\.0 420 /);
    assert.equal(header(bad!, 'Unsupported'), '100rel');
    const noContact = inviteFrom(t.peer, t.port, { callId: 'nc@test', branch: 'z9hG4bKr2' }).replace(/Contact: [^\r]*\r\n/, '');
    await t.peer.send(noContact, t.port);
    await t.peer.waitFor(/^SIP\/2\.0 400 /);
    const text = inviteFrom(t.peer, t.port, { callId: 'txt@test', branch: 'z9hG4bKr3', sdp: 'hello' }).replace('Content-Type: application/sdp', 'Content-Type: text/plain');
    await t.peer.send(text, t.port);
    const [unsup] = await t.peer.waitFor(/^SIP\/2\.0 415 /);
    assert.equal(header(unsup!, 'Accept'), 'application/sdp');
    // Same Call-ID, From tag and CSeq on another branch while the first is in progress.
    await t.peer.send(inviteFrom(t.peer, t.port, { callId: 'm@test', branch: 'z9hG4bKm1' }), t.port);
    await t.events.waitFor((e) => e.length >= 1, 2_000, 'offered');
    await t.peer.send(inviteFrom(t.peer, t.port, { callId: 'm@test', branch: 'z9hG4bKm2' }), t.port);
    await t.peer.waitFor(/^SIP\/2\.0 482 /);
    assert.equal(t.events.of('offered').length, 1);
    assert.equal(await t.adapter.hangup(t.events.of('offered')[0]!.offer.callId, { reasonHeader: null, headers: [] }), 'sent');
    const [gone] = await t.peer.waitFor(/^SIP\/2\.0 480 /);
    assert.equal(header(gone!, 'Call-ID'), 'm@test');
    assert.deepEqual(headers(gone!, 'Via').length, 1);
  } finally {
    await t.close();
  }
});

test('unknown call ids and commands in the wrong direction are VoxErrors with a code', async () => {
  const t = await setup();
  try {
    await assert.rejects(t.adapter.answer('nope'), { code: 'VOX_SIP_NO_DIALOG' });
    await assert.rejects(t.adapter.hangup('nope', { reasonHeader: null, headers: [] }), { code: 'VOX_SIP_NO_DIALOG' });
    await t.peer.send(inviteFrom(t.peer, t.port), t.port);
    await t.events.waitFor((e) => e.length >= 1, 2_000, 'offered');
    await assert.rejects(t.adapter.cancel(t.events.of('offered')[0]!.offer.callId), { code: 'VOX_SIP_NO_DIALOG' });
    await assert.rejects(t.adapter.dial({ callId: 'x', target: 'not a uri', from: 'me' }), { code: 'VOX_SIP_PARSE' });
    await assert.rejects(t.adapter.dial({ callId: 'y', target: 'sips:a@127.0.0.1', from: 'me' }), { code: 'VOX_SIP_TRANSPORT' });
    await assert.rejects(t.adapter.dial({ callId: 'z', target: `sip:a@127.0.0.3:${t.peer.port}`, from: 'bad\r\nX: y' }), { code: 'VOX_SIP_PARSE' });
  } finally {
    await t.close();
  }
});

test('overload: beyond maxTransactions requests still waiting for a final response, new ones get 503 with Retry-After; finished ones do not count', async () => {
  const events = new RecordingEvents();
  const { adapter, port } = await startAdapter(events, { maxTransactions: 2 });
  const peer = await RawPeer.open();
  try {
    for (const n of [1, 2, 3]) await peer.send(inviteFrom(peer, port, { callId: `busy-${n}@test`, branch: `z9hG4bKbusy${n}` }), port);
    const [busy] = await peer.waitFor(/^SIP\/2\.0 503 /);
    assert.equal(header(busy!, 'Call-ID'), 'busy-3@test');
    assert.equal(header(busy!, 'Retry-After'), '5');
    await events.waitFor((e) => e.length === 2, 2_000, 'two offers');
    // Answering one frees a slot even though its transaction lingers (Timer L).
    await adapter.answer(events.of('offered')[0]!.offer.callId);
    await peer.send(inviteFrom(peer, port, { callId: 'busy-4@test', branch: 'z9hG4bKbusy4' }), port);
    await events.waitFor((e) => e.some((x) => x.type === 'offered' && x.offer.sipCallId === 'busy-4@test'), 2_000, 'fourth offer');
  } finally {
    await adapter.stop();
    await peer.close();
  }
});
