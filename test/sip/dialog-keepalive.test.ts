/**
 * In-dialog OPTIONS keepalive (issue 13, Build 1): a confirmed dialog is probed every
 * `dialogKeepaliveMs`; a peer that answers keeps its call, a peer that answers 481 or not at all
 * (Timer F, 64×T1) is reported as gone (`failed`, VOX_SIP_TIMEOUT), so the runtime ends the call.
 * Raw UDP peer on loopback, T1 = 50 ms.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawPeer, RecordingEvents, header, inDialog, inviteFrom, sleep, startAdapter, tagOf, type ReceivedDatagram } from './helpers.ts';

async function confirmedCall(keepaliveMs: number) {
  const events = new RecordingEvents();
  const { adapter, port } = await startAdapter(events, { dialogKeepaliveMs: keepaliveMs });
  const peer = await RawPeer.open();
  const sipCallId = `ka-${Math.random().toString(36).slice(2)}@test`;
  await peer.send(inviteFrom(peer, port, { callId: sipCallId }), port);
  await events.waitFor((e) => e.some((x) => x.type === 'offered'), 2_000, 'offered');
  const callId = events.of('offered')[0]!.offer.callId;
  await adapter.answer(callId);
  const [ok] = await peer.waitFor(/^SIP\/2\.0 200/);
  await peer.send(inDialog(peer, port, 'ACK', { toTag: tagOf(header(ok!, 'To')), branch: 'z9hG4bKkaack', cseq: 1, callId: sipCallId }), port);
  return { events, adapter, port, peer, callId, sipCallId };
}

/** The peer's answer to one of our requests. */
function answer(req: ReceivedDatagram, status: string): string {
  return [`SIP/2.0 ${status}`, `Via: ${header(req, 'Via')}`, `From: ${header(req, 'From')}`, `To: ${header(req, 'To')}`, `Call-ID: ${header(req, 'Call-ID')}`, `CSeq: ${header(req, 'CSeq')}`, 'Content-Length: 0', '', ''].join('\r\n');
}

test('a peer that answers the in-dialog OPTIONS keeps its call; one that stops answering is reported gone after Timer F', async () => {
  const c = await confirmedCall(300);
  try {
    const [first] = await c.peer.waitFor(/^OPTIONS /, 1, 3_000);
    assert.equal(header(first!, 'Call-ID'), c.sipCallId, 'inside the dialog');
    assert.match(header(first!, 'CSeq')!, /^\d+ OPTIONS$/);
    await c.peer.send(answer(first!, '200 OK'), c.port);
    const [, second] = await c.peer.waitFor(/^OPTIONS /, 2, 3_000);
    assert.equal(c.events.events.filter((e) => e.type === 'failed').length, 0, 'answered: the call goes on');
    void second; // not answered: the peer has vanished
    await c.events.waitFor((e) => e.some((x) => x.type === 'failed'), 8_000, 'the peer reported gone');
    const failed = c.events.events.find((e) => e.type === 'failed') as { callId: string; info: { code: string; message: string } };
    assert.equal(failed.callId, c.callId);
    assert.equal(failed.info.code, 'VOX_SIP_TIMEOUT');
    assert.match(failed.info.message, /no answer to an in-dialog OPTIONS/);
  } finally {
    await c.peer.close();
    await c.adapter.stop();
  }
});

test('481 to the in-dialog OPTIONS (the peer forgot the dialog) is reported at once; 0 turns probing off', async () => {
  const c = await confirmedCall(200);
  try {
    const [first] = await c.peer.waitFor(/^OPTIONS /, 1, 3_000);
    await c.peer.send(answer(first!, '481 Call/Transaction Does Not Exist'), c.port);
    await c.events.waitFor((e) => e.some((x) => x.type === 'failed'), 2_000, 'the peer reported gone');
    assert.match((c.events.events.find((e) => e.type === 'failed') as { info: { message: string } }).info.message, /481/);
  } finally {
    await c.peer.close();
    await c.adapter.stop();
  }
  const off = await confirmedCall(0);
  try {
    await sleep(600);
    assert.equal(off.peer.matching(/^OPTIONS /).length, 0);
  } finally {
    await off.peer.close();
    await off.adapter.stop();
  }
});
