/**
 * The RFC 3261 timer arithmetic with the default T1 = 500 ms, T2 = 4 s, checked exactly on a
 * simulated clock (the sockets are real, time is not): 2xx retransmissions until Timer H, then
 * failed + BYE with Timer E retransmissions until Timer F; Timer G for a non-2xx; and all state
 * forgotten afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedClock } from '../../src/domain/clock.ts';
import { RawPeer, RecordingEvents, header, inviteFrom, sleep, startAdapter } from './helpers.ts';

/** Advances the clock and waits until `count` datagrams match (or asserts none more arrive). */
async function step(clock: SimulatedClock, peer: RawPeer, ms: number, re: RegExp, expected: number): Promise<void> {
  clock.advance(ms);
  if (expected > 0) await peer.waitFor(re, expected, 2_000);
  await sleep(15);
  assert.equal(peer.matching(re).length, expected, `after +${ms} ms (t=${clock.now()}) expected ${expected} × ${re}`);
}

test('default timers: 200 OK at 0, 0.5, 1.5, 3.5, 7.5 … 31.5 s; Timer H at 32 s → failed + BYE; BYE at +0.5, +1.5, +3.5, +7.5 …; Timer F at +32 s', async () => {
  const clock = new SimulatedClock();
  const events = new RecordingEvents();
  const { adapter, port, logs } = await startAdapter(events, { clock, timers: {} });
  const peer = await RawPeer.open();
  try {
    await peer.send(inviteFrom(peer, port), port);
    await events.waitFor((e) => e.length === 1, 2_000, 'offered');
    await adapter.answer(events.of('offered')[0]!.offer.callId);
    const ok = /^SIP\/2\.0 200 OK$/;
    await peer.waitFor(ok, 1);
    await step(clock, peer, 499, ok, 1);
    await step(clock, peer, 1, ok, 2); // t = 500
    await step(clock, peer, 1_000, ok, 3); // 1500
    await step(clock, peer, 2_000, ok, 4); // 3500
    await step(clock, peer, 3_999, ok, 4);
    await step(clock, peer, 1, ok, 5); // 7500: capped at T2 = 4 s from here
    for (let n = 6; n <= 11; n++) await step(clock, peer, 4_000, ok, n); // 11500 … 31500
    assert.equal(events.of('failed').length, 0);
    const bye = /^BYE /;
    await step(clock, peer, 499, bye, 0); // 31999
    await step(clock, peer, 1, bye, 1); // 32000 = 64*T1: Timer H
    assert.equal(peer.matching(ok).length, 11, 'no 2xx after Timer H');
    assert.deepEqual(events.of('failed').map((e) => e.info.code), ['VOX_SIP_TIMEOUT']);
    await step(clock, peer, 500, bye, 2);
    await step(clock, peer, 1_000, bye, 3);
    await step(clock, peer, 2_000, bye, 4);
    await step(clock, peer, 4_000, bye, 5);
    const byes = peer.matching(bye);
    assert.ok(byes.every((b) => b.text === byes[0]!.text), 'one transaction');
    for (let n = 6; n <= 11; n++) await step(clock, peer, 4_000, bye, n); // +11.5 … +31.5 s at T2
    assert.ok(!logs.some((l) => l.msg.startsWith('BYE got no final response')));
    clock.advance(500); // +32 s = 64*T1: Timer F
    await sleep(20);
    assert.ok(logs.some((l) => l.msg === 'BYE got no final response (Timer F); dialog ended'));
    const sent = peer.matching(bye).length;
    assert.equal(sent, 11);
    clock.advance(10_000);
    await sleep(20);
    assert.equal(peer.matching(bye).length, sent, 'nothing after Timer F');
    // All state is forgotten once the linger period is over.
    clock.advance(40_000);
    assert.deepEqual(adapter.stats(), { calls: 0, dialogs: 0, serverTransactions: 0, clientTransactions: 0, timers: 0 });
  } finally {
    await adapter.stop();
    await peer.close();
  }
});

test('default timers: a 486 is retransmitted at 0.5, 1.5, 3.5, 7.5 s … (Timer G) until the ACK; Timer I then ends the transaction', async () => {
  const clock = new SimulatedClock();
  const events = new RecordingEvents();
  const { adapter, port } = await startAdapter(events, { clock, timers: {} });
  const peer = await RawPeer.open();
  try {
    await peer.send(inviteFrom(peer, port), port);
    await events.waitFor((e) => e.length === 1, 2_000, 'offered');
    await adapter.reject(events.of('offered')[0]!.offer.callId, 486);
    const busy = /^SIP\/2\.0 486 /;
    await peer.waitFor(busy, 1);
    await step(clock, peer, 500, busy, 2);
    await step(clock, peer, 1_000, busy, 3);
    await step(clock, peer, 2_000, busy, 4);
    await step(clock, peer, 4_000, busy, 5);
    const toTag = /tag=([^;]+)/.exec(header(peer.matching(busy)[0]!, 'To')!)![1];
    await peer.send(
      [`ACK sip:bot@127.0.0.1:${port} SIP/2.0`, `Via: SIP/2.0/UDP ${peer.host}:${peer.port};branch=z9hG4bKinv1;rport`, `From: "Peer" <sip:peer@${peer.host}>;tag=peertag`, `To: <sip:bot@127.0.0.1>;tag=${toTag}`, 'Call-ID: call-1@test', 'CSeq: 1 ACK', 'Content-Length: 0', '', ''].join('\r\n'),
      port,
    );
    await sleep(30);
    await step(clock, peer, 4_000, busy, 5);
    assert.equal(adapter.stats().serverTransactions, 1, 'Confirmed state absorbs ACKs for T4');
    clock.advance(5_000); // Timer I = T4
    assert.equal(adapter.stats().serverTransactions, 0);
  } finally {
    await adapter.stop();
    await peer.close();
  }
});

test('default timers: an unanswered INVITE is sent at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s (Timer A) and fails at 32 s (Timer B)', async () => {
  const clock = new SimulatedClock();
  const events = new RecordingEvents();
  const { adapter } = await startAdapter(events, { clock, timers: {} });
  const peer = await RawPeer.open();
  try {
    await adapter.dial({ callId: 'a', target: `sip:callee@${peer.host}:${peer.port}`, from: 'voxledger' });
    const inv = /^INVITE /;
    await peer.waitFor(inv, 1);
    await step(clock, peer, 499, inv, 1);
    await step(clock, peer, 1, inv, 2);
    await step(clock, peer, 1_000, inv, 3);
    await step(clock, peer, 2_000, inv, 4);
    await step(clock, peer, 4_000, inv, 5);
    await step(clock, peer, 8_000, inv, 6); // Timer A keeps doubling (no T2 cap for INVITE)
    await step(clock, peer, 16_000, inv, 7); // 31.5 s
    assert.equal(events.of('dialFailed').length, 0);
    clock.advance(499);
    assert.equal(events.of('dialFailed').length, 0);
    clock.advance(1); // 32 s
    assert.deepEqual(events.of('dialFailed').map((e) => e.info), [{ sipStatus: 0, reasonPhrase: 'No response (Timer B)' }]);
    await step(clock, peer, 60_000, inv, 7);
  } finally {
    await adapter.stop();
    await peer.close();
  }
});
