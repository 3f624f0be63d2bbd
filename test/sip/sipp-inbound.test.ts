/**
 * Inbound calls against the real sipp (UAC scenarios in test/sip/scenarios): the adapter
 * answers, hangs up with a Reason and X- headers that sipp checks with ereg; the caller hangs
 * up (BYE retransmitted, late BYE); the caller CANCELs before answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headerValues, runSipp, sippAvailable, sippDistinctRequests, sippRequests } from './sipp.ts';
import { RecordingEvents, startAdapter } from './helpers.ts';

const skip = sippAvailable() ? false : 'sipp is not installed';

test('sipp UAC: adapter answers, then hangs up with Reason and two X- headers exactly as given', { skip }, async () => {
  const events = new RecordingEvents();
  const { adapter, port } = await startAdapter(events);
  const hangups: Array<Promise<string>> = [];
  events.onOffered = (offer) => void adapter.answer(offer.callId);
  events.onAnswered = (callId) => {
    hangups.push(
      adapter.hangup(callId, {
        reasonHeader: 'Q.850;cause=16;text="completed \\"ok\\""',
        headers: [
          { name: 'X-Bot-Result', value: 'success' },
          { name: 'X-Survey', value: 'survey=42;lang=en-US, [ok]' },
        ],
      }),
    );
  };
  try {
    const r = await runSipp({ scenario: 'uac-answer-then-bye.xml', remote: `127.0.0.1:${port}` });
    assert.equal(r.code, 0, r.diagnostics);
    assert.deepEqual(await Promise.all(hangups), ['sent']);
    const offers = events.of('offered');
    assert.equal(offers.length, 1);
    assert.equal(offers[0]!.offer.to, 'bot');
    assert.match(offers[0]!.offer.sdp ?? '', /m=audio \d+ RTP\/AVP 0 101/);
    assert.equal(offers[0]!.offer.headers['max-forwards'], '70');
    assert.equal(events.of('answered').length, 1);
    assert.equal(events.of('peerHungUp').length, 0);
    assert.equal(events.of('failed').length, 0);
    // Exactly one BYE on the wire, with our headers once each, in order.
    const byes = sippDistinctRequests(r.messages, 'received', 'BYE');
    assert.equal(byes.length, 1, r.diagnostics);
    const bye = byes[0]!;
    assert.deepEqual(headerValues(bye, 'Reason'), ['Q.850;cause=16;text="completed \\"ok\\""']);
    assert.deepEqual(headerValues(bye, 'X-Bot-Result'), ['success']);
    assert.deepEqual(headerValues(bye, 'X-Survey'), ['survey=42;lang=en-US, [ok]']);
    const names = bye.headers.map(([n]) => n);
    assert.ok(names.indexOf('Reason') < names.indexOf('X-Bot-Result') && names.indexOf('X-Bot-Result') < names.indexOf('X-Survey'));
    // 100 Trying came first, and the 200 OK carried our answer: PCMU + telephone-event.
    const responses = (r.messages ?? []).filter((m) => m.direction === 'received' && m.startLine.startsWith('SIP/2.0'));
    assert.equal(responses[0]!.startLine, 'SIP/2.0 100 Trying');
  } finally {
    await adapter.stop();
  }
});

test('sipp UAC hangs up: 200 OK, peerHungUp once with its Reason; a late BYE gets 200 without a second event', { skip }, async () => {
  const events = new RecordingEvents();
  const { adapter, port } = await startAdapter(events);
  events.onOffered = (offer) => void adapter.answer(offer.callId);
  try {
    const r = await runSipp({ scenario: 'uac-peer-bye.xml', remote: `127.0.0.1:${port}` });
    assert.equal(r.code, 0, r.diagnostics);
    const hungUp = events.of('peerHungUp');
    assert.equal(hungUp.length, 1);
    assert.equal(hungUp[0]!.info.reasonHeader, 'Q.850;cause=16;text="caller hung up"');
    const callId = events.of('offered')[0]!.offer.callId;
    assert.equal(hungUp[0]!.callId, callId);
    // The runtime hanging up afterwards sends nothing (never a BYE on a dialog the peer ended).
    assert.equal(await adapter.hangup(callId, { reasonHeader: 'Q.850;cause=16;text="late"', headers: [] }), 'peer-ended');
    const okToBye = (r.messages ?? []).filter((m) => m.direction === 'received' && m.startLine === 'SIP/2.0 200 OK' && headerValues(m, 'CSeq')[0]!.endsWith('BYE'));
    assert.equal(okToBye.length, 2, r.diagnostics);
    assert.equal(sippRequests(r.messages, 'received', 'BYE').length, 0);
  } finally {
    await adapter.stop();
  }
});

test('sipp UAC CANCELs before answer: 200 OK to CANCEL, 487 to INVITE, peerCancelled once', { skip }, async () => {
  const events = new RecordingEvents();
  const { adapter, port } = await startAdapter(events);
  try {
    const r = await runSipp({ scenario: 'uac-cancel.xml', remote: `127.0.0.1:${port}` });
    assert.equal(r.code, 0, r.diagnostics);
    assert.equal(events.of('peerCancelled').length, 1);
    const callId = events.of('offered')[0]!.offer.callId;
    assert.equal(events.of('peerCancelled')[0]!.callId, callId);
    // Answering after the CANCEL does nothing.
    await adapter.answer(callId);
    assert.equal(events.of('answered').length, 0);
    const finals = (r.messages ?? []).filter((m) => m.direction === 'received' && /^SIP\/2\.0 [2-6]/.test(m.startLine));
    assert.deepEqual(finals.map((m) => m.startLine), ['SIP/2.0 200 OK', 'SIP/2.0 487 Request Terminated']);
  } finally {
    await adapter.stop();
  }
});
