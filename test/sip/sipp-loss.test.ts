/**
 * Loss and delay against the real sipp, T1 = 50 ms, T2 = 400 ms:
 * - the caller ACKs late: our 200 OK is retransmitted (T1 doubling), the BYE waits for the ACK;
 * - the caller never ACKs: Timer H (64*T1) → failed(VOX_SIP_TIMEOUT) and one BYE;
 * - the caller answers our BYE late: the BYE is retransmitted (Timer E) as one transaction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fillScenario, headerValues, runSipp, sippAvailable, sippRequests, type SippMessage } from './sipp.ts';
import { RecordingEvents, startAdapter } from './helpers.ts';

const skip = sippAvailable() ? false : 'sipp is not installed';

function okToInvite(messages: SippMessage[] | undefined): SippMessage[] {
  return (messages ?? []).filter((m) => m.direction === 'received' && m.startLine === 'SIP/2.0 200 OK' && /INVITE$/.test(headerValues(m, 'CSeq')[0] ?? ''));
}

test('caller ACKs 500 ms late: 200 OK retransmitted with T1 doubling, BYE only after the ACK', { skip }, async () => {
  const events = new RecordingEvents();
  const { adapter, port, logs } = await startAdapter(events);
  let hangupResolvedAt = 0;
  events.onOffered = (offer) => void adapter.answer(offer.callId);
  events.onAnswered = (callId) => {
    // Asked at once; must wait for the ACK (RFC 3261 §15).
    void adapter.hangup(callId, { reasonHeader: 'Q.850;cause=16;text="bye"', headers: [] }).then(() => (hangupResolvedAt = Date.now()));
  };
  try {
    const startedAt = Date.now();
    const r = await runSipp({ scenario: fillScenario('uac-slow-ack.xml', { ackDelayMs: 500 }), remote: `127.0.0.1:${port}` });
    assert.equal(r.code, 0, r.diagnostics);
    const copies = okToInvite(r.messages);
    assert.ok(copies.length >= 3 && copies.length <= 6, `expected 3-6 copies of the 200 OK, got ${copies.length}\n${r.diagnostics}`);
    assert.ok(copies.every((c) => c.text === copies[0]!.text), 'retransmissions are byte-identical');
    const all = r.messages ?? [];
    const ackIndex = all.findIndex((m) => m.direction === 'sent' && m.startLine.startsWith('ACK '));
    const byeIndex = all.findIndex((m) => m.direction === 'received' && m.startLine.startsWith('BYE '));
    assert.ok(ackIndex >= 0 && byeIndex > ackIndex, 'the BYE comes after the ACK');
    assert.equal(sippRequests(r.messages, 'received', 'BYE').length, 1);
    assert.ok(hangupResolvedAt - startedAt >= 450, 'hangup resolved only once the BYE could go');
    assert.equal(events.of('failed').length, 0);
    assert.ok(logs.some((l) => l.msg === 'retransmitting 2xx (no ACK yet)' && typeof l.fields.callId === 'string'));
  } finally {
    await adapter.stop();
  }
});

test('caller never ACKs: Timer H (64*T1) → failed(VOX_SIP_TIMEOUT) and exactly one BYE', { skip }, async () => {
  const events = new RecordingEvents();
  const { adapter, port, logs } = await startAdapter(events);
  events.onOffered = (offer) => void adapter.answer(offer.callId);
  try {
    const t0 = Date.now();
    const r = await runSipp({ scenario: 'uac-no-ack.xml', remote: `127.0.0.1:${port}` });
    assert.equal(r.code, 0, r.diagnostics);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 64 * 50, `Timer H is 64*T1 = 3200 ms; the call lasted ${elapsed} ms`);
    const failed = events.of('failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.info.code, 'VOX_SIP_TIMEOUT');
    const callId = events.of('offered')[0]!.offer.callId;
    assert.equal(failed[0]!.callId, callId);
    // The runtime reacting with its own hangup sends nothing more: at most one BYE per dialog.
    assert.equal(await adapter.hangup(callId, { reasonHeader: 'Q.850;cause=41', headers: [] }), 'sent', 'the dialog ended with our BYE (Timer H)');
    assert.equal(sippRequests(r.messages, 'received', 'BYE').length, 1);
    assert.equal(logs.filter((l) => l.msg === 'sending BYE').length, 1);
    const copies = okToInvite(r.messages);
    assert.ok(copies.length >= 8, `the 200 OK is retransmitted until Timer H (got ${copies.length} copies)`);
  } finally {
    await adapter.stop();
  }
});

test('caller answers our BYE 600 ms late: BYE retransmitted (Timer E), one transaction, hangup resolved when the first copy left', { skip }, async () => {
  const events = new RecordingEvents();
  const { adapter, port, logs } = await startAdapter(events);
  let answeredBeforeResolve: boolean | undefined;
  events.onOffered = (offer) => void adapter.answer(offer.callId);
  events.onAnswered = (callId) => {
    setTimeout(() => {
      const req = { reasonHeader: 'Q.850;cause=16;text="done"', headers: [{ name: 'X-Result', value: 'ok' }] };
      const a = adapter.hangup(callId, req);
      const b = adapter.hangup(callId, req);
      void Promise.all([a, b]).then(() => (answeredBeforeResolve = logs.some((l) => l.msg === 'BYE answered')));
    }, 50);
  };
  try {
    const r = await runSipp({ scenario: fillScenario('uac-slow-bye-answer.xml', { byeAnswerDelayMs: 600 }), remote: `127.0.0.1:${port}` });
    assert.equal(r.code, 0, r.diagnostics);
    const byes = sippRequests(r.messages, 'received', 'BYE');
    assert.ok(byes.length >= 3 && byes.length <= 6, `expected 3-6 copies of the BYE, got ${byes.length}\n${r.diagnostics}`);
    const branches = new Set(byes.map((b) => headerValues(b, 'Via')[0]));
    const cseqs = new Set(byes.map((b) => headerValues(b, 'CSeq')[0]));
    assert.equal(branches.size, 1, 'one BYE transaction: same Via branch');
    assert.equal(cseqs.size, 1, 'one BYE transaction: same CSeq');
    assert.ok(byes.every((b) => b.text === byes[0]!.text));
    assert.equal(answeredBeforeResolve, false, 'hangup resolves once the BYE is on the wire, not when it is answered');
    const answeredLogs = logs.filter((l) => l.msg === 'BYE answered');
    assert.equal(answeredLogs.length, 1);
    assert.equal(answeredLogs[0]!.fields.status, 200);
    assert.equal(events.of('peerHungUp').length, 0);
  } finally {
    await adapter.stop();
  }
});
