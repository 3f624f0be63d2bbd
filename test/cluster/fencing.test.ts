import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeCluster } from './support/cluster-harness.ts';
import { InProcessSignaling } from '../../src/sip/in-process/in-process-signaling.ts';
import { PausableClock } from './support/pausable-clock.ts';

const HANGUP = { hangupReason: 'bye now', hangupSipHeaders: [{ name: 'X-Ticket', value: 't-1' }] };

describe('cluster fencing and what cannot be handed over (SimulatedClock, MemoryEventStore)', () => {
  it('a paused process (SIGSTOP) that wakes after its call was taken over and its deadline passed sends nothing: it re-checks its claims first', async () => {
    const clocks = new Map<string, PausableClock>();
    const c = await makeCluster(['a', 'b'], {
      defaults: { delayBotDisconnectMs: 8000 },
      script: [{ afterMs: 100, hangup: HANGUP }],
      nodeClock: (id, shared) => {
        const pc = new PausableClock(shared);
        clocks.set(id, pc);
        return pc;
      },
    });
    const a = c.node('a');
    const b = c.node('b');
    const callId = c.sip.offer('a');
    await c.settle();
    a.runtime.sttStarted(callId);
    await c.advance(200);
    const deadline = Date.parse(((await c.events(callId)).find((e) => e.type === 'BotHangupRequested')!.data as { deadline: string }).deadline);
    clocks.get('a')!.pause();
    a.link.partition(); // nothing reaches a while it is stopped
    await c.advanceUntil(() => b.notices.some((n) => n.kind === 'took-over'), 10_000, 10);
    assert.ok(b.cluster.isLeader, 'b leads (a, stopped, cannot know yet)');
    await c.advanceUntil(() => c.sip.byes.length > 0, deadline - c.clock.now() + 100, 5);
    assert.equal(c.sip.byes.length, 1);
    assert.deepEqual([c.sip.byes[0]!.nodeId, c.sip.byes[0]!.at], ['b', deadline], 'the new owner sent the BYE at the deadline');
    await c.advance(500, 50);

    // a wakes up: its renewal, its lapse and the call's deadline all come due at once.
    a.link.heal();
    clocks.get('a')!.resume();
    await c.advance(1000, 10);
    assert.deepEqual(c.sip.byeRequests.filter((r) => r.nodeId === 'a'), [], 'a never asked for a BYE');
    assert.ok(!a.link.appends.some((x) => x.streamId === `call-${callId}` && x.types.includes('ByeSent')), 'a never tried to record one');
    assert.ok(a.notices.some((n) => n.kind === 'lost' && n.callId === callId), 'a learnt it lost the call');
    assert.deepEqual(a.runtime.liveCalls(), []);
    assert.ok(!a.cluster.isLeader, 'a did not take leadership back');
    const types = await c.types(callId);
    assert.equal(types.filter((t) => t === 'ByeSent').length, 1);
    assert.equal(types.filter((t) => t === 'CallEnded').length, 1);
    assert.equal(c.bot.notices.get(`scripted-${callId}`)?.length, 1);
    await c.close();
  });

  it('a node cut off from the store keeps its dialog sane (one BYE on the wire), learns it lost the call once it is back, and stops writing for it', async () => {
    const c = await makeCluster(['a', 'b'], { defaults: { delayBotDisconnectMs: 8000 }, script: [{ afterMs: 100, hangup: HANGUP }] });
    const a = c.node('a');
    const b = c.node('b');
    const callId = c.sip.offer('a');
    await c.settle();
    a.runtime.sttStarted(callId);
    await c.advance(200);
    a.link.partition();
    await c.advanceUntil(() => b.notices.some((n) => n.kind === 'took-over'), 10_000, 10);
    assert.ok(a.notices.some((n) => n.kind === 'lease-lapsed'), 'a noticed its lease ran out');
    assert.equal(a.cluster.isLeader, false, 'a stepped down when its lease ran out');
    assert.deepEqual(c.leaders(), ['b']);
    await c.advance(8000, 50);
    // a cannot tell a cut from a store outage, so it kept to the deadline; the SIP side saw one BYE.
    assert.equal(c.sip.byes.length, 1, 'one BYE on the wire');
    a.link.heal();
    await c.advance(1500, 10);
    assert.ok(a.notices.some((n) => n.kind === 'lost' && n.callId === callId), 'a learnt it lost the call');
    assert.deepEqual(a.runtime.liveCalls(), [], 'a dropped the actor');
    assert.deepEqual(a.cluster.ownedCalls(), []);
    assert.deepEqual(c.leaders(), ['b'], 'a did not take leadership back');
    const types = await c.types(callId);
    assert.equal(types.filter((t) => t === 'CallEnded').length, 1);
    assert.equal(types.filter((t) => t === 'ByeSent').length, 1);
    assert.equal(types.at(-1), 'CallEnded');
    assert.equal(c.bot.notices.get(`scripted-${callId}`)?.length, 1);
    await c.close();
  });

  it('after a lost claim the node refuses to write for the call (CLUSTER_LEASE_LOST)', async () => {
    const c = await makeCluster(['a', 'b'], { script: [] });
    const a = c.node('a');
    const callId = c.sip.offer('a');
    await c.advance(50);
    a.link.partition();
    await c.advanceUntil(() => c.node('b').notices.some((n) => n.kind === 'took-over'), 10_000, 10);
    a.link.heal();
    await c.advance(100);
    assert.ok(a.notices.some((n) => n.kind === 'lost'));
    await assert.rejects(
      a.cluster.callStore.append(`call-${callId}`, [{ id: crypto.randomUUID(), type: 'SttStarted', data: {}, metadata: { callId, at: new Date(c.clock.now()).toISOString(), nodeId: 'a', schemaVersion: 1 } }], { expectedRevision: 'any' }),
      { code: 'VOX_CLUSTER_LEASE_LOST' },
    );
    await c.close();
  });

  it('per-node in-process signaling (the embedded adapter\'s situation): the ledger and the bot are handed over, the dead node\'s dialog is not', async () => {
    const sips = new Map<string, InProcessSignaling>();
    const c = await makeCluster(['a', 'b'], {
      defaults: { delayBotDisconnectMs: 5000 },
      script: [{ afterMs: 100, hangup: HANGUP }],
      signaling: (id) => {
        const s = new InProcessSignaling();
        sips.set(id, s);
        return s;
      },
    });
    const a = c.node('a');
    const b = c.node('b');
    const callId = sips.get('a')!.peer.offer({ to: '1000' });
    await c.settle();
    a.runtime.sttStarted(callId);
    await c.advance(200);
    await a.crash();
    await c.advance(6000, 50);
    assert.ok(b.notices.some((n) => n.kind === 'took-over'));
    const types = await c.types(callId);
    assert.deepEqual(types.slice(-2), ['ByeSent', 'CallEnded'], 'the ledger is complete');
    assert.equal(c.bot.notices.get(`scripted-${callId}`)?.length, 1, 'the bot is told');
    assert.equal(sips.get('b')!.byes.length, 0, 'b has no dialog to send the BYE on');
    const failure = b.logs.find((l) => l.msg === 'BYE could not be sent');
    assert.ok(failure, 'the failed BYE is logged');
    assert.equal((failure.err as { code: string }).code, 'VOX_SIP_NO_DIALOG');
    await c.close();
  });
});
