import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedClock } from '../../src/domain/clock.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { MemoryEventStore } from '../../src/store/memory-store.ts';
import type { EventStore } from '../../src/store/port.ts';
import { ClusterNode } from '../../src/cluster/cluster-node.ts';
import type { ClusterRuntime } from '../../src/cluster/node-context.ts';
import { clusterEventData } from '../../src/cluster/cluster-events.ts';
import { makeCluster } from './support/cluster-harness.ts';

/** A runtime that must not be started (the node fails before). */
function idleRuntime(started: { value: boolean }): ClusterRuntime {
  return {
    onCallStarted: () => () => undefined,
    onCallEnded: () => () => undefined,
    resume: async () => {
      throw new Error('not expected');
    },
    release: () => undefined,
    actor: () => undefined,
    start: async () => void (started.value = true),
    stop: async () => undefined,
  };
}

function unreachable(kind: string, how: 'refuse' | 'silent'): EventStore {
  const fail = () => (how === 'refuse' ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:2113'), { code: 'ECONNREFUSED' })) : new Promise<never>(() => undefined));
  return {
    kind,
    append: fail,
    readStream: fail,
    readAll: fail,
    headPosition: fail,
    subscribeToAll: () => {
      throw new Error('not expected');
    },
    close: async () => undefined,
  };
}

describe('cluster faults and bad input', () => {
  it('store unreachable at start: the node refuses to start with VOX_STORE_UNAVAILABLE naming the store, and never starts the runtime', async () => {
    const started = { value: false };
    const node = new ClusterNode({ store: unreachable('esdb', 'refuse'), clock: new SimulatedClock(), nodeId: 'n1', log: silentLogger });
    await assert.rejects(node.start(idleRuntime(started)), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'VOX_STORE_UNAVAILABLE');
      assert.match(e.message, /event store \(esdb\) is unreachable: connect ECONNREFUSED/);
      return true;
    });
    assert.equal(started.value, false);
  });

  it('store that never answers at start: STORE_UNAVAILABLE after the probe timeout (simulated)', async () => {
    const clock = new SimulatedClock();
    const started = { value: false };
    const node = new ClusterNode({ store: unreachable('esdb', 'silent'), clock, nodeId: 'n1', log: silentLogger, probeTimeoutMs: 2000 });
    const p = node.start(idleRuntime(started));
    p.catch(() => undefined);
    clock.advance(1999);
    await new Promise((r) => setImmediate(r));
    clock.advance(1);
    await assert.rejects(p, { code: 'VOX_STORE_UNAVAILABLE', message: /no answer within 2000 ms/ });
    assert.equal(started.value, false);
  });

  it('invalid lease settings are named config errors', () => {
    assert.throws(() => new ClusterNode({ store: new MemoryEventStore(), clock: new SimulatedClock(), nodeId: 'x', log: silentLogger, leaseMs: 0 }), { code: 'VOX_CONFIG_INVALID', message: /cluster\.leaseMs/ });
    assert.throws(() => new ClusterNode({ store: new MemoryEventStore(), clock: new SimulatedClock(), nodeId: 'x', log: silentLogger, leaseMs: 1000, renewEveryMs: 1000 }), {
      code: 'VOX_CONFIG_INVALID',
      message: /renewEveryMs/,
    });
  });

  it('a second live process with the same node id is refused (CLUSTER_NODE_ID_IN_USE) after waiting out one lease', async () => {
    const c = await makeCluster(['a', 'b']);
    const t0 = c.clock.now();
    await assert.rejects(c.addNode('a'), { code: 'VOX_CLUSTER_NODE_ID_IN_USE' });
    assert.ok(c.clock.now() - t0 >= 3000, 'it waited for the lease before deciding');
    assert.ok(c.nodes.get('a')!.cluster.running, 'the first process is untouched');
    await c.close();
  });

  it('a crashed node restarted under its id waits out its old lease, then runs; its old calls are taken over', async () => {
    const c = await makeCluster(['a', 'b'], { script: [] });
    const callId = c.sip.offer('a');
    await c.advance(50);
    await c.node('a').crash();
    const restarted = await c.addNode('a');
    await c.advance(3500, 10);
    assert.ok(restarted.cluster.running);
    const owners = ['a', 'b'].filter((n) => c.node(n).runtime.liveCalls().includes(callId));
    assert.equal(owners.length, 1, 'exactly one node runs the old call');
    const claims = (await c.raw(`owner-${callId}`)).filter((e) => e.type === 'CallClaimed');
    assert.equal(claims.length, 2);
    assert.equal((claims[1]!.data as { cause: string }).cause, 'takeover');
    await c.close();
  });

  it('a process that was cut off and replaced by a newer process with its id halts itself on return', async () => {
    const c = await makeCluster(['a', 'b'], { script: [] });
    const old = c.node('a');
    const callId = c.sip.offer('a');
    await c.advance(50);
    old.link.partition();
    await c.advance(4000, 20);
    c.nodes.delete('a');
    const fresh = await c.addNode('a');
    await c.advance(200);
    old.link.heal();
    await c.advance(2000, 20);
    assert.ok(old.notices.some((n) => n.kind === 'halted'), 'the old process halted');
    assert.equal(old.cluster.running, false);
    assert.deepEqual(old.runtime.liveCalls(), []);
    assert.ok(fresh.cluster.running);
    const runners = [fresh, c.node('b')].filter((n) => n.runtime.liveCalls().includes(callId));
    assert.equal(runners.length, 1);
    await old.cluster.halt();
    await c.close();
  });

  it('malformed and hostile events in the cluster streams are ignored; takeover still works', async () => {
    const c = await makeCluster(['a', 'b'], { script: [] });
    const callId = c.sip.offer('a');
    await c.advance(50);
    const junk = (type: string, data: unknown, stream: string) =>
      c.store.append(stream, [{ ...clusterEventData({ type: 'NodeHeartbeat', data: { nodeId: 'x', incarnation: 'y', leaseMs: 1, leaseUntil: '' } }, c.clock.now(), 'evil'), type, data }], { expectedRevision: 'any' });
    await junk('NodeHeartbeat', { nodeId: 'evil', incarnation: 'i', leaseMs: 'forever', leaseUntil: 'never' }, 'node-evil');
    await junk('NodeHeartbeat', null, 'node-evil');
    await junk('CallClaimed', { nodeId: 'x'.repeat(10_000), incarnation: 'i', cause: 'started' }, `owner-${callId}`);
    await junk('LeadershipClaimed', { nodeId: 'evil', incarnation: 'i', term: -1 }, 'leader');
    await junk('Whatever', [1, 2, 3], 'leader');
    await junk('CallClaimed', { nodeId: 'evil\r\nVia: x', incarnation: 'i' }, 'owner-other');
    await c.advance(200);
    assert.deepEqual(c.leaders(), ['a'], 'leadership unchanged');
    assert.ok(c.node('b').cluster.running && c.node('a').cluster.running);
    await c.node('a').crash();
    await c.advanceUntil(() => c.node('b').runtime.liveCalls().includes(callId), 10_000, 10);
    assert.ok(c.node('b').runtime.liveCalls().includes(callId), 'taken over despite the junk in its owner stream');
    assert.deepEqual(c.leaders(), ['b']);
    await c.close();
  });
});
