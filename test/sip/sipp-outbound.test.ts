/**
 * Outbound calls against the real sipp as callee (UAS scenarios): 486, 603, 480 → dialFailed
 * with that status (ACK on the INVITE's branch); 200 → ACK on a new branch to the Contact,
 * answered, then our BYE; a callee that rings forever → cancel → CANCEL, 487 → dialFailed 487.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fillScenario, sippAvailable, sippDistinctRequests, sippRequests, startSipp } from './sipp.ts';
import { RecordingEvents, startAdapter } from './helpers.ts';

const skip = sippAvailable() ? false : 'sipp is not installed';

for (const [status, reason] of [
  [486, 'Busy Here'],
  [603, 'Decline'],
  [480, 'Temporarily Unavailable'],
] as const) {
  test(`dial a sipp UAS that answers ${status}: ACK on the INVITE's branch, dialFailed({sipStatus: ${status}})`, { skip }, async () => {
    const events = new RecordingEvents();
    const { adapter } = await startAdapter(events);
    try {
      const sipp = await startSipp({ scenario: fillScenario('uas-final.xml', { status, reason }) });
      await sipp.ready;
      await adapter.dial({ callId: `out-${status}`, target: `sip:callee@${sipp.localHost}:${sipp.localPort}`, from: 'voxledger' });
      const r = await sipp.done;
      assert.equal(r.code, 0, r.diagnostics);
      await events.waitFor((e) => e.some((x) => x.type === 'dialFailed'), 2_000, 'dialFailed');
      assert.deepEqual(events.of('dialFailed').map((e) => [e.callId, e.info.sipStatus, e.info.reasonPhrase]), [[`out-${status}`, status, reason]]);
      assert.equal(events.of('answered').length, 0);
      assert.equal(sippDistinctRequests(r.messages, 'received', 'INVITE').length, 1);
      assert.equal(sippDistinctRequests(r.messages, 'received', 'ACK').length, 1);
      // Cancel after the final response changes nothing.
      await adapter.cancel(`out-${status}`);
      assert.equal(events.of('dialFailed').length, 1);
    } finally {
      await adapter.stop();
    }
  });
}

test('dial a sipp UAS that answers 200: ACK (new branch, to its Contact), answered with its SDP, then our BYE', { skip }, async () => {
  const events = new RecordingEvents();
  const { adapter } = await startAdapter(events);
  try {
    const sipp = await startSipp({ scenario: 'uas-answer.xml' });
    await sipp.ready;
    events.onAnswered = (callId) => void adapter.hangup(callId, { reasonHeader: 'Q.850;cause=16;text="done"', headers: [{ name: 'X-Campaign', value: 'spring' }] });
    await adapter.dial({
      callId: 'out-200',
      target: `sip:callee@${sipp.localHost}:${sipp.localPort}`,
      from: 'sip:dialer@example.com',
      headers: [{ name: 'X-Campaign-Id', value: '7' }, { name: 'Via', value: 'SIP/2.0/UDP evil' }],
    });
    const r = await sipp.done;
    assert.equal(r.code, 0, r.diagnostics);
    const answered = events.of('answered');
    assert.equal(answered.length, 1);
    assert.equal(answered[0]!.info.sipStatus, 200);
    assert.match(answered[0]!.info.sdp ?? '', /m=audio \d+ RTP\/AVP 0/);
    const invite = sippRequests(r.messages, 'received', 'INVITE')[0]!;
    assert.match(invite.text, /\r\nFrom: <sip:dialer@example\.com>;tag=/);
    assert.match(invite.text, /\r\nX-Campaign-Id: 7\r\n/);
    assert.equal(invite.headers.filter(([n]) => n.toLowerCase() === 'via').length, 1, 'a Via from dial headers never reaches the wire');
    const bye = sippDistinctRequests(r.messages, 'received', 'BYE');
    assert.equal(bye.length, 1);
    assert.match(bye[0]!.text, /\r\nReason: Q\.850;cause=16;text="done"\r\nX-Campaign: spring\r\n/);
    assert.equal(events.of('dialFailed').length, 0);
  } finally {
    await adapter.stop();
  }
});

test('dial a sipp UAS that never answers; cancel → CANCEL (same branch and CSeq) → 487 → dialFailed({sipStatus: 487})', { skip }, async () => {
  const events = new RecordingEvents();
  const { adapter, logs } = await startAdapter(events);
  try {
    const sipp = await startSipp({ scenario: 'uas-ring-cancel.xml' });
    await sipp.ready;
    await adapter.dial({ callId: 'out-ring', target: `sip:callee@${sipp.localHost}:${sipp.localPort}`, from: 'voxledger' });
    // Wait for the 180 so the CANCEL goes out at once.
    const deadline = Date.now() + 3_000;
    while (!logs.some((l) => l.msg === 'provisional response' && l.fields.status === 180) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await adapter.cancel('out-ring');
    const r = await sipp.done;
    assert.equal(r.code, 0, r.diagnostics);
    await events.waitFor((e) => e.some((x) => x.type === 'dialFailed'), 2_000, 'dialFailed');
    assert.deepEqual(events.of('dialFailed').map((e) => e.info.sipStatus), [487]);
    assert.equal(sippDistinctRequests(r.messages, 'received', 'CANCEL').length, 1);
    assert.equal(sippDistinctRequests(r.messages, 'received', 'ACK').length, 1);
  } finally {
    await adapter.stop();
  }
});
