/**
 * Dialog handover between two embedded SIP adapters: adapter A sets a call up and records its
 * dialog (`answered(…, { dialog })`); A goes silent (stopped: nothing more from it, as after
 * kill -9); adapter B, on another port, adopts the recorded state (JSON round trip, as read
 * back from the event store) and ends the call with a BYE from its own address — checked by
 * the real sipp (ereg on Reason and X- headers, 200 OK back to B's Via) in both directions.
 * Then, against a raw UDP peer: in-dialog requests reaching B are answered, a route set is
 * followed, and recorded state that could inject a line or misroute is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCodes, isVoxError } from '../../src/domain/errors.ts';
import type { SipDialogState } from '../../src/domain/sip-dialog.ts';
import { BYE_CSEQ_OFFSET } from '../../src/sip/embedded/dialog.ts';
import { fillScenario, headerValues, sippAvailable, sippDistinctRequests, startSipp } from './sipp.ts';
import { RawPeer, RecordingEvents, header, headers, inDialog, inviteFrom, respond, sleep, startAdapter, tagOf, waitForLog } from './helpers.ts';

const skip = sippAvailable() ? false : 'sipp is not installed';

const REASON = 'Q.850;cause=16;text="handed over"';
const HANGUP = { reasonHeader: REASON, headers: [{ name: 'X-Case-Id', value: 'C-42' }, { name: 'X-Queue', value: 'billing desk' }] };
const SCENARIO_VARS = {
  reason_re: '^ *Q[.]850;cause=16;text=.handed over. *$',
  h1_name: 'X-Case-Id',
  h1_re: '^ *C-42 *$',
  h2_name: 'X-Queue',
  h2_re: '^ *billing desk *$',
  bye_timeout_ms: 10_000,
};

/** What a node reading CallAnswered back from the store gets. */
const throughStore = (d: SipDialogState): SipDialogState => JSON.parse(JSON.stringify(d)) as SipDialogState;

test('inbound: a second adapter adopts the dialog adapter A recorded and sends the BYE; sipp checks Reason and X- headers and answers 200 to the new Via', { skip }, async () => {
  const eventsA = new RecordingEvents();
  const a = await startAdapter(eventsA);
  const eventsB = new RecordingEvents();
  const b = await startAdapter(eventsB);
  try {
    eventsA.onOffered = (offer) => void a.adapter.answer(offer.callId);
    const sipp = await startSipp({ scenario: fillScenario('uac-expect-handed-over-bye.xml', SCENARIO_VARS), remote: `127.0.0.1:${a.port}` });
    await eventsA.waitFor((e) => e.some((x) => x.type === 'answered'), 5_000, 'answered on A');
    await waitForLog(a.logs, 'ACK received', 5_000);
    const answered = eventsA.of('answered')[0]!;
    const dialog = answered.info.dialog;
    assert.ok(dialog, 'the embedded adapter records the dialog on answered');
    assert.equal(dialog.direction, 'inbound');
    assert.equal(dialog.transport, 'udp');
    assert.deepEqual(dialog.routeSet, []);
    assert.equal(dialog.remoteTarget, `sip:caller@${sipp.localHost}:${sipp.localPort}`);
    assert.equal(tagOf(dialog.localUri), dialog.localTag);
    assert.equal(tagOf(dialog.remoteUri), dialog.remoteTag);
    assert.equal(dialog.recordedBy, `127.0.0.1:${a.port}`);
    assert.match(dialog.localSdp ?? '', /m=audio \d+ RTP\/AVP 0/);

    await a.adapter.stop(); // A is gone: it sends nothing more
    const callId = 'handed-over-in';
    b.adapter.adopt(callId, throughStore(dialog));
    assert.equal(await b.adapter.hangup(callId, HANGUP), 'sent');
    const r = await sipp.done;
    assert.equal(r.code, 0, r.diagnostics);

    const byes = sippDistinctRequests(r.messages, 'received', 'BYE');
    assert.equal(byes.length, 1, r.diagnostics);
    const bye = byes[0]!;
    assert.equal(bye.startLine, `BYE ${dialog.remoteTarget} SIP/2.0`);
    assert.match(headerValues(bye, 'Via')[0]!, new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${b.port};`), 'the BYE comes from B');
    assert.deepEqual(headerValues(bye, 'Call-ID'), [dialog.sipCallId]);
    assert.deepEqual(headerValues(bye, 'From'), [dialog.localUri]);
    assert.deepEqual(headerValues(bye, 'To'), [dialog.remoteUri]);
    assert.deepEqual(headerValues(bye, 'CSeq'), [`${dialog.localCSeq + BYE_CSEQ_OFFSET} BYE`]);
    assert.deepEqual(headerValues(bye, 'Reason'), [REASON]);
    assert.deepEqual(headerValues(bye, 'X-Case-Id'), ['C-42']);
    assert.deepEqual(headerValues(bye, 'X-Queue'), ['billing desk']);
    const answeredOnB = await waitForLog(b.logs, 'BYE answered', 3_000);
    assert.equal(answeredOnB.fields.status, 200, "sipp's 200 OK reached B (it followed the BYE's Via)");
    assert.equal(eventsB.events.length, 0, 'B reports nothing to its runtime for a BYE it sent');
    assert.equal(b.adapter.stats().dialogs, 0, 'the dialog ended on B');
    // At most one BYE: a second hangup gets the first one's outcome and sends nothing.
    assert.equal(await b.adapter.hangup(callId, HANGUP), 'sent');
  } finally {
    await a.adapter.stop();
    await b.adapter.stop();
  }
});

test('outbound: A dials a sipp callee and records the dialog; B adopts it and sends the BYE; sipp checks it and answers B', { skip }, async () => {
  const eventsA = new RecordingEvents();
  const a = await startAdapter(eventsA);
  const b = await startAdapter(new RecordingEvents());
  try {
    const sipp = await startSipp({ scenario: fillScenario('uas-answer-expect-handed-over-bye.xml', SCENARIO_VARS) });
    await sipp.ready;
    await a.adapter.dial({ callId: 'out-1', target: `sip:callee@${sipp.localHost}:${sipp.localPort}`, from: 'voxledger' });
    await eventsA.waitFor((e) => e.some((x) => x.type === 'answered'), 5_000, 'answered on A');
    const dialog = eventsA.of('answered')[0]!.info.dialog!;
    assert.equal(dialog.direction, 'outbound');
    assert.equal(dialog.remoteTarget, `sip:callee@${sipp.localHost}:${sipp.localPort}`);
    await sleep(50); // the ACK A sent on the 2xx reaches sipp
    await a.adapter.stop();

    b.adapter.adopt('handed-over-out', throughStore(dialog));
    assert.equal(await b.adapter.hangup('handed-over-out', HANGUP), 'sent');
    const r = await sipp.done;
    assert.equal(r.code, 0, r.diagnostics);
    const bye = sippDistinctRequests(r.messages, 'received', 'BYE');
    assert.equal(bye.length, 1);
    assert.match(headerValues(bye[0]!, 'Via')[0]!, new RegExp(`127\\.0\\.0\\.1:${b.port};`));
    assert.deepEqual(headerValues(bye[0]!, 'CSeq'), [`${dialog.localCSeq + BYE_CSEQ_OFFSET} BYE`], 'above the INVITE A sent');
    assert.equal((await waitForLog(b.logs, 'BYE answered', 3_000)).fields.status, 200);
  } finally {
    await a.adapter.stop();
    await b.adapter.stop();
  }
});

/** A recorded dialog with a raw UDP peer as the remote end (an inbound call from the peer). */
function peerDialog(peer: RawPeer, over: Partial<SipDialogState> = {}): SipDialogState {
  return {
    sipCallId: 'adopt-1@test',
    localTag: 'ourtag',
    remoteTag: 'peertag',
    localUri: '<sip:bot@127.0.0.1>;tag=ourtag',
    remoteUri: `"Peer" <sip:peer@${peer.host}>;tag=peertag`,
    remoteTarget: `sip:peer@${peer.host}:${peer.port}`,
    routeSet: [],
    localCSeq: 100,
    transport: 'udp',
    direction: 'inbound',
    localSdp: 'v=0\r\no=vox 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n',
    ...over,
  };
}

test('in-dialog requests that reach the adopting adapter are answered: OPTIONS 200, re-INVITE 200 with the recorded SDP, BYE 200 + peerHungUp; our hangup then sends nothing', async () => {
  const events = new RecordingEvents();
  const { adapter, port } = await startAdapter(events);
  const peer = await RawPeer.open();
  try {
    adapter.adopt('adopted-1', peerDialog(peer));
    adapter.adopt('adopted-1', peerDialog(peer, { localCSeq: 5 })); // already held: left as it is
    assert.equal(adapter.stats().dialogs, 1);
    const base = { toTag: 'ourtag', callId: 'adopt-1@test' };
    await peer.send(inDialog(peer, port, 'OPTIONS', { ...base, branch: 'z9hG4bKo1', cseq: 7 }), port);
    const ok = await peer.waitFor(/^SIP\/2\.0 200/, 1);
    assert.match(header(ok[0]!, 'CSeq')!, /^7 OPTIONS$/);
    await peer.send(inDialog(peer, port, 'INVITE', { ...base, branch: 'z9hG4bKri', cseq: 8, body: 'v=0\r\no=peer 2 2 IN IP4 127.0.0.3\r\ns=-\r\nc=IN IP4 127.0.0.3\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n' }), port);
    const reinvite = await peer.waitUntil((d) => /^SIP\/2\.0 200/.test(d.startLine) && header(d, 'CSeq') === '8 INVITE', 're-INVITE 200');
    assert.match(reinvite.body, /m=audio 9 RTP\/AVP 0/, 'the media recorded by the node that answered');
    assert.equal(tagOf(header(reinvite, 'To')), 'ourtag');
    await peer.send(inDialog(peer, port, 'ACK', { ...base, branch: 'z9hG4bKack', cseq: 8 }), port);
    await peer.send(inDialog(peer, port, 'BYE', { ...base, branch: 'z9hG4bKb1', cseq: 9, extra: ['Reason: Q.850;cause=16;text="caller left"'] }), port);
    await peer.waitUntil((d) => /^SIP\/2\.0 200/.test(d.startLine) && header(d, 'CSeq') === '9 BYE', 'BYE 200');
    await events.waitFor((e) => e.some((x) => x.type === 'peerHungUp'), 2_000, 'peerHungUp');
    assert.deepEqual(events.of('peerHungUp').map((e) => [e.callId, e.info.reasonHeader]), [['adopted-1', 'Q.850;cause=16;text="caller left"']]);
    assert.equal(await adapter.hangup('adopted-1', HANGUP), 'peer-ended');
    await sleep(100);
    assert.equal(peer.matching(/^BYE /).length, 0, 'never a BYE on a dialog the peer ended');
  } finally {
    await adapter.stop();
    await peer.close();
  }
});

test('a node restarted on the same address re-sends the BYE it sent before it died byte for byte: to the peer a retransmission (RFC 3261 §17.2.2), not a second BYE', async () => {
  const events = new RecordingEvents();
  const a = await startAdapter(events);
  const peer = await RawPeer.open();
  let again: Awaited<ReturnType<typeof startAdapter>> | undefined;
  try {
    await peer.send(inviteFrom(peer, a.port, { callId: 'restart-1@test', sdp: null }), a.port);
    await events.waitFor((e) => e.some((x) => x.type === 'offered'), 3_000, 'offered');
    const callId = events.of('offered')[0]!.offer.callId;
    void a.adapter.answer(callId);
    const [ok] = await peer.waitFor(/^SIP\/2\.0 200/, 1);
    await peer.send(inDialog(peer, a.port, 'ACK', { toTag: tagOf(header(ok!, 'To'))!, callId: 'restart-1@test', branch: 'z9hG4bKack1', cseq: 1 }), a.port);
    await waitForLog(a.logs, 'ACK received', 3_000);
    const dialog = throughStore(events.of('answered')[0]!.info.dialog!);
    void a.adapter.hangup(callId, HANGUP); // the peer does not answer: the node dies meanwhile
    const [first] = await peer.waitFor(/^BYE /, 1);
    await a.adapter.stop();
    again = await startAdapter(new RecordingEvents(), { port: a.port });
    again.adapter.adopt(callId, dialog);
    const outcome = again.adapter.hangup(callId, HANGUP);
    const second = await peer.waitUntil((d) => d.startLine.startsWith('BYE ') && d !== first, 'the BYE after the restart');
    assert.equal(second.text, first!.text, 'the same bytes: branch, CSeq, Reason, headers');
    assert.equal(header(second, 'CSeq'), `${dialog.localCSeq + BYE_CSEQ_OFFSET} BYE`);
    await peer.send(respond(second, '200 OK'), a.port);
    assert.equal(await outcome, 'sent');
  } finally {
    await a.adapter.stop();
    await again?.adapter.stop();
    await peer.close();
  }
});

test('an adopted dialog with a route set: BYE to the first (loose) route with Route headers, Request-URI the remote target', async () => {
  const { adapter, port } = await startAdapter(new RecordingEvents());
  const proxy = await RawPeer.open('127.0.0.4');
  try {
    const route = `<sip:proxy@${proxy.host}:${proxy.port};lr>`;
    adapter.adopt('adopted-2', peerDialog(proxy, { remoteTarget: 'sip:peer@192.0.2.1:5070', routeSet: [route, '<sip:edge@192.0.2.2;lr>'] }));
    const outcome = adapter.hangup('adopted-2', HANGUP);
    const [bye] = await proxy.waitFor(/^BYE /, 1);
    assert.equal(await outcome, 'sent');
    assert.equal(bye!.startLine, 'BYE sip:peer@192.0.2.1:5070 SIP/2.0');
    assert.deepEqual(headers(bye!, 'Route'), [route, '<sip:edge@192.0.2.2;lr>']);
    assert.equal(header(bye!, 'CSeq'), `${100 + BYE_CSEQ_OFFSET} BYE`);
    assert.match(header(bye!, 'Via')!, new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${port};branch=z9hG4bK`));
    assert.deepEqual(headers(bye!, 'Reason'), [REASON]);
  } finally {
    await adapter.stop();
    await proxy.close();
  }
});

test('recorded state that could inject a line or misroute is refused (VOX_SIP_NO_DIALOG) and nothing is sent', async () => {
  const { adapter } = await startAdapter(new RecordingEvents());
  const peer = await RawPeer.open();
  try {
    const bad: Array<[string, unknown]> = [
      ['not an object', 'sip:x'],
      ['CRLF in remoteUri', peerDialog(peer, { remoteUri: '<sip:peer@127.0.0.3>;tag=peertag\r\nVia: SIP/2.0/UDP 6.6.6.6' })],
      ['LF in the Call-ID', peerDialog(peer, { sipCallId: 'x\nVia: evil' })],
      ['white space in the Call-ID', peerDialog(peer, { sipCallId: 'a b' })],
      ['remote target not a SIP URI', peerDialog(peer, { remoteTarget: 'http://example.test/' })],
      ['route not a SIP name-addr', peerDialog(peer, { routeSet: ['garbage'] })],
      ['route set not an array', { ...peerDialog(peer), routeSet: 'x' }],
      ['too many routes', peerDialog(peer, { routeSet: Array.from({ length: 33 }, () => '<sip:p@127.0.0.3;lr>') })],
      ['localUri without our tag', peerDialog(peer, { localUri: '<sip:bot@127.0.0.1>;tag=other' })],
      ['remoteUri without their tag', peerDialog(peer, { remoteUri: '<sip:peer@127.0.0.3>' })],
      ['negative CSeq', peerDialog(peer, { localCSeq: -1 })],
      ['CSeq at 2^31', peerDialog(peer, { localCSeq: 2 ** 31 })],
      ['fractional CSeq', peerDialog(peer, { localCSeq: 1.5 })],
      ['unknown transport', { ...peerDialog(peer), transport: 'tls' }],
      ['unknown direction', { ...peerDialog(peer), direction: 'sideways' }],
      ['missing Call-ID', { ...peerDialog(peer), sipCallId: undefined }],
      ['oversized field', peerDialog(peer, { remoteTarget: `sip:${'a'.repeat(3000)}@127.0.0.3` })],
    ];
    for (const [what, state] of bad) {
      assert.throws(() => adapter.adopt(`bad-${what}`, state as SipDialogState), (err) => isVoxError(err, ErrorCodes.SIP_NO_DIALOG), what);
      await assert.rejects(adapter.hangup(`bad-${what}`, HANGUP), (err) => isVoxError(err, ErrorCodes.SIP_NO_DIALOG), `${what}: no call to hang up`);
    }
    assert.equal(adapter.stats().dialogs, 0);
    // A TCP dialog on a UDP-only adapter cannot be served.
    assert.throws(() => adapter.adopt('tcp-1', peerDialog(peer, { transport: 'tcp' })), (err) => isVoxError(err, ErrorCodes.SIP_TRANSPORT));
    await sleep(100);
    assert.equal(peer.received.length, 0, 'nothing went on the wire');
  } finally {
    await adapter.stop();
    await peer.close();
  }
  assert.throws(() => adapter.adopt('late', peerDialog(peer)), (err) => isVoxError(err, ErrorCodes.SIP_TRANSPORT), 'a stopped adapter adopts nothing');
});
