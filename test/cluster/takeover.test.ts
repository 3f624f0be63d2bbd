import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeCluster } from './support/cluster-harness.ts';

const HANGUP = { hangupReason: 'transfer "done"', hangupSipHeaders: [{ name: 'X-Case', value: '4711' }, { name: 'Via', value: 'evil' }] };
const REASON = 'Q.850;cause=16;text="transfer \\"done\\""';

describe('cluster takeover (two ClusterNodes, one MemoryEventStore, SimulatedClock, shared SIP server double)', () => {
  it('owner dies between the bot hangup and its STT deadline: the survivor takes over and sends the BYE at the deadline, once', async () => {
    const c = await makeCluster(['a', 'b'], { defaults: { delayBotDisconnectMs: 8000 }, script: [{ afterMs: 100, hangup: HANGUP }] });
    const a = c.node('a');
    const b = c.node('b');
    assert.deepEqual(c.leaders(), ['a'], 'the first node leads');
    const callId = c.sip.offer('a');
    await c.settle();
    a.runtime.sttStarted(callId);
    await c.advance(150);
    const requested = (await c.events(callId)).find((e) => e.type === 'BotHangupRequested');
    assert.ok(requested, 'hangup recorded on a');
    const deadline = Date.parse((requested.data as { deadline: string }).deadline);

    await c.advance(200);
    const lastHeartbeat = a.cluster.leaseEnd - a.cluster.leaseMs;
    const diedAt = c.clock.now();
    await a.crash();
    const tookMs = await c.advanceUntil(() => b.notices.some((n) => n.kind === 'took-over'), 10_000, 5);
    const takeover = b.notices.find((n) => n.kind === 'took-over')!;
    assert.equal(takeover.kind === 'took-over' && takeover.callId, callId);
    assert.ok(takeover.at <= lastHeartbeat + 3000 + 5, `taken over when the lease ran out (${takeover.at - lastHeartbeat} ms after the last heartbeat)`);
    assert.ok(tookMs <= 3000 + 5, `took ${tookMs} simulated ms from death`);
    assert.equal(c.sip.byes.length, 0, 'no BYE before the deadline');
    assert.ok(takeover.at < deadline);

    await c.advanceUntil(() => c.sip.byes.length > 0, deadline - c.clock.now() + 100, 1);
    assert.equal(c.sip.byes.length, 1);
    const bye = c.sip.byes[0]!;
    assert.equal(bye.nodeId, 'b');
    assert.equal(bye.at, deadline, 'the BYE leaves at the deadline');
    assert.equal(bye.reasonHeader, REASON);
    assert.deepEqual(bye.headers, [{ name: 'X-Case', value: '4711' }]);

    await c.advance(2000, 50);
    assert.equal(c.sip.byes.length, 1, 'exactly one BYE');
    const types = await c.types(callId);
    assert.equal(types.filter((t) => t === 'CallEnded').length, 1);
    assert.equal(types.at(-1), 'CallEnded');
    const sent = (await c.events(callId)).find((e) => e.type === 'ByeSent')!;
    assert.equal((sent.data as { trigger: string }).trigger, 'deadline');
    assert.deepEqual(c.leaders(), ['b'], 'leadership moved with the dead leader');
    assert.deepEqual(c.bot.notices.get(`scripted-${callId}`), [{ reasonCode: 'bot-disconnected', reason: 'transfer "done"' }], 'bot told once');
    const owner = await c.raw(`owner-${callId}`);
    assert.deepEqual(owner.map((e) => [e.type, (e.data as { nodeId: string }).nodeId, (e.data as { cause?: string }).cause]), [
      ['CallClaimed', 'a', 'started'],
      ['CallClaimed', 'b', 'takeover'],
      ['CallReleased', 'b', undefined],
    ]);
    console.log(`# takeover: ${tookMs} simulated ms after the owner died (${takeover.at - lastHeartbeat} ms after its last heartbeat, lease 3000 ms); died ${diedAt - lastHeartbeat} ms after that heartbeat`);
    await c.close();
  });

  it('a deadline that passed while nobody owned the call is honoured at once on takeover', async () => {
    const c = await makeCluster(['a', 'b'], { defaults: { delayBotDisconnectMs: 1000 }, script: [{ afterMs: 100, hangup: HANGUP }] });
    const a = c.node('a');
    const b = c.node('b');
    const callId = c.sip.offer('a');
    await c.settle();
    a.runtime.sttStarted(callId);
    await c.advance(120);
    await a.crash();
    await c.advanceUntil(() => c.sip.byes.length > 0, 10_000, 5);
    const takeover = b.notices.find((n) => n.kind === 'took-over')!;
    assert.equal(c.sip.byes.length, 1);
    assert.equal(c.sip.byes[0]!.at, takeover.at, 'BYE sent the moment the call was taken over');
    assert.equal(c.sip.byes[0]!.reasonHeader, REASON);
    const ev = await c.events(callId);
    const sent = ev.find((e) => e.type === 'ByeSent')!;
    assert.deepEqual({ trigger: (sent.data as { trigger: string }).trigger, sttWaitMs: (sent.data as { sttWaitMs: number }).sttWaitMs }, { trigger: 'deadline', sttWaitMs: 1000 });
    await c.advance(1000, 50);
    assert.equal(ev.filter((e) => e.type === 'CallEnded').length, 1);
    assert.equal(c.bot.notices.get(`scripted-${callId}`)?.length, 1);
    await c.close();
  });

  it('race: two survivors try to take the same call over at the same instant; exactly one wins', async () => {
    const c = await makeCluster(['a', 'b', 'c'], { takeoverSpreadMs: 0, script: [] });
    const callId = c.sip.offer('a');
    await c.advance(50);
    await c.node('a').crash();
    await c.advanceUntil(() => ['b', 'c'].some((id) => c.node(id).notices.some((n) => n.kind === 'took-over')), 10_000, 5);
    await c.advance(100);
    const tries = ['b', 'c'].flatMap((id) => c.node(id).link.appends.filter((x) => x.streamId === `owner-${callId}` && x.types[0] === 'CallClaimed').map((x) => ({ id, ...x })));
    assert.equal(tries.length, 2, 'both survivors tried');
    assert.equal(tries.filter((t) => t.outcome === 'ok').length, 1, 'one claim landed');
    assert.equal(tries.filter((t) => t.outcome === 'VOX_STORE_WRONG_EXPECTED_REVISION').length, 1, 'the other one conflicted');
    const winners = ['b', 'c'].filter((id) => c.node(id).notices.some((n) => n.kind === 'took-over'));
    assert.equal(winners.length, 1);
    assert.deepEqual(['b', 'c'].filter((id) => c.node(id).runtime.liveCalls().includes(callId)), winners);
    // The winner runs the call: the peer's BYE ends it, once.
    c.sip.peerBye(callId);
    await c.advance(200);
    const types = await c.types(callId);
    assert.deepEqual(types.slice(-2), ['ByeReceived', 'CallEnded']);
    assert.equal(types.filter((t) => t === 'CallEnded').length, 1);
    await c.close();
  });

  it('survivors share a dead node\'s calls (rendezvous order), each call taken once, each ended once', async () => {
    const c = await makeCluster(['a', 'b', 'c'], { script: [] });
    const calls = Array.from({ length: 40 }, () => c.sip.offer('a'));
    await c.advance(50);
    await c.node('a').crash();
    await c.advanceUntil(() => calls.every((id) => ['b', 'c'].some((n) => c.node(n).runtime.liveCalls().includes(id))), 10_000, 10);
    const byNode = Object.fromEntries(['b', 'c'].map((n) => [n, c.node(n).notices.filter((x) => x.kind === 'took-over').length]));
    assert.equal(byNode.b! + byNode.c!, 40, 'every call taken over once');
    assert.ok(byNode.b! >= 8 && byNode.c! >= 8, `spread over both survivors: ${JSON.stringify(byNode)}`);
    const conflicts = ['b', 'c'].flatMap((n) => c.node(n).link.appends.filter((x) => x.streamId.startsWith('owner-') && x.outcome !== 'ok'));
    assert.ok(conflicts.length <= 2, `few wasted claims (${conflicts.length})`);
    for (const id of calls) c.sip.peerBye(id);
    await c.advance(500, 50);
    for (const id of calls) {
      const types = await c.types(id);
      assert.equal(types.filter((t) => t === 'CallEnded').length, 1, id);
      assert.equal(types.at(-1), 'CallEnded');
      assert.equal(c.bot.notices.get(`scripted-${id}`)?.length, 1, `bot told once about ${id}`);
    }
    await c.close();
  });

  it('a graceful stop hands calls and leadership over at once (no lease wait)', async () => {
    const c = await makeCluster(['a', 'b'], { defaults: { delayBotDisconnectMs: 5000 }, script: [{ afterMs: 100, hangup: HANGUP }] });
    const callId = c.sip.offer('a');
    await c.settle();
    c.node('a').runtime.sttStarted(callId);
    await c.advance(150);
    const stoppedAt = c.clock.now();
    await c.node('a').cluster.stop();
    await c.settle();
    await c.settle();
    const takeover = c.node('b').notices.find((n) => n.kind === 'took-over');
    assert.ok(takeover, 'taken over');
    assert.equal(takeover.at, stoppedAt, 'in the same simulated millisecond');
    assert.deepEqual(c.leaders(), ['b']);
    await c.advance(6000, 50);
    assert.equal(c.sip.byes.length, 1);
    assert.equal(c.sip.byes[0]!.nodeId, 'b');
    assert.equal(c.bot.notices.get(`scripted-${callId}`)?.length, 1);
    await c.close();
  });
});
