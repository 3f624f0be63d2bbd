import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeCluster } from './support/cluster-harness.ts';
import { projectionTask, type LeaderTask } from '../../src/cluster/leader-tasks.ts';
import type { Projection } from '../../projections/projection.ts';

/** A projection that records which node's runner saw each CallEnded. */
function endedCounter(seen: Array<{ node: string; callId: string }>, node: string): Projection<number> {
  return {
    name: 'ended-counter',
    init: () => 0,
    apply(n, e) {
      if (e.type !== 'CallEnded') return n;
      seen.push({ node, callId: e.callId });
      return n + 1;
    },
  };
}

describe('leader election for once-per-cluster work (SimulatedClock, MemoryEventStore)', () => {
  it('one leader runs the notifier and projections; when it dies another takes over from the checkpoints; every call counted and notified once', async () => {
    const seen: Array<{ node: string; callId: string }> = [];
    const running = new Set<string>();
    let maxRunning = 0;
    const c = await makeCluster(['a', 'b', 'c'], {
      script: [],
      extraTasks: ({ id, store, log }) => {
        const inner = projectionTask(store, endedCounter(seen, id), { checkpointEvery: 1, log });
        const tracked: LeaderTask = {
          name: inner.name,
          async start() {
            running.add(id);
            maxRunning = Math.max(maxRunning, running.size);
            await inner.start();
          },
          async stop() {
            running.delete(id);
            await inner.stop();
          },
        };
        return [tracked];
      },
    });
    assert.deepEqual(c.leaders(), ['a']);
    const first = ['a', 'b', 'c'].map((n) => c.sip.offer(n));
    await c.advance(100);
    for (const id of first) c.sip.peerBye(id);
    await c.advance(300);
    assert.deepEqual(seen.map((s) => s.node), ['a', 'a', 'a']);

    const lastHeartbeat = c.node('a').cluster.leaseEnd - 3000;
    await c.node('a').crash();
    const tookMs = await c.advanceUntil(() => c.leaders().length === 1 && c.leaders()[0] !== 'a', 10_000, 5);
    const leader = c.leaders()[0]!;
    assert.ok(['b', 'c'].includes(leader));
    assert.ok(c.clock.now() - lastHeartbeat <= 3000 + 10, `new leader ${c.clock.now() - lastHeartbeat} ms after the old one's last heartbeat`);

    const second = ['b', 'c', 'b'].map((n) => c.sip.offer(n));
    await c.advance(100);
    for (const id of second) c.sip.peerBye(id);
    await c.advance(500);

    assert.deepEqual(seen.map((s) => s.callId).sort(), [...first, ...second].sort(), 'each CallEnded counted once across leaders');
    assert.deepEqual(seen.slice(3).map((s) => s.node), [leader, leader, leader], 'the new runner resumed from the checkpoint');
    assert.equal(maxRunning, 1, 'never two leaders running tasks at once');
    for (const id of [...first, ...second]) {
      const notified = await c.raw(`notify-${id}`);
      assert.equal(notified.length, 1, id);
      assert.equal((notified[0]!.data as { outcome: string }).outcome, 'delivered');
      assert.equal(notified[0]!.metadata.nodeId, first.includes(id) ? 'a' : leader, 'notified by the leader of the time');
      assert.equal(c.bot.notices.get(`scripted-${id}`)?.length, 1);
    }
    console.log(`# leader failover: ${tookMs} simulated ms after the leader died (lease 3000 ms)`);
    await c.close();
  });

  it('a leader that leaves gracefully releases leadership; another node leads at once', async () => {
    const c = await makeCluster(['a', 'b'], { script: [] });
    assert.deepEqual(c.leaders(), ['a']);
    const at = c.clock.now();
    await c.node('a').cluster.stop();
    await c.settle();
    assert.deepEqual(c.leaders(), ['b']);
    const leader = await c.raw('leader');
    assert.deepEqual(leader.map((e) => [e.type, (e.data as { nodeId: string }).nodeId, (e.data as { term: number }).term]), [
      ['LeadershipClaimed', 'a', 1],
      ['LeadershipReleased', 'a', 1],
      ['LeadershipClaimed', 'b', 2],
    ]);
    assert.equal(c.clock.now(), at);
    await c.close();
  });

  it('a leader whose task cannot start gives leadership up for a lease, so another node can lead', async () => {
    let failOn: string | undefined = 'a';
    const c = await makeCluster(['a'], {
      script: [],
      extraTasks: ({ id }) => [
        {
          name: 'fragile',
          async start() {
            if (failOn === id) throw new Error('cannot start here');
          },
          async stop() {},
        },
      ],
    });
    await c.addNode('b');
    await c.advance(500);
    assert.deepEqual(c.leaders(), ['b']);
    assert.ok(c.node('a').logs.some((l) => l.msg === 'leader task failed to start; giving leadership up for a while'));
    failOn = undefined;
    await c.node('b').cluster.stop();
    await c.advance(4000, 50);
    assert.deepEqual(c.leaders(), ['a'], 'a leads again once it can');
    await c.close();
  });
});
