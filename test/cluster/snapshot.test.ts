import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeCluster } from './support/cluster-harness.ts';
import { ClusterView } from '../../src/cluster/cluster-view.ts';
import { clusterEventData } from '../../src/cluster/cluster-events.ts';

describe('cluster view snapshots (bounded joins; SimulatedClock, MemoryEventStore)', () => {
  it('a node that joins reads the last snapshot and only the cluster events after it, and still takes over calls claimed before it', async () => {
    const c = await makeCluster(['a', 'b'], { script: [], snapshotEveryMs: 1000 });
    const calls = [c.sip.offer('a'), c.sip.offer('a'), c.sip.offer('b')];
    await c.advance(1500, 50);
    const snaps = await c.raw('cluster-snapshot');
    assert.ok(snaps.length >= 1, 'the leader wrote a snapshot');
    const last = snaps.at(-1)!;
    assert.equal(last.metadata.nodeId, 'a');
    const position = (last.data as { position: number }).position;
    assert.equal((last.data as { claims: unknown[] }).claims.length, 3);

    const joiner = await c.addNode('z');
    const watch = joiner.link.subscriptions.find((s) => s.streamPrefixes?.includes('owner-'))!;
    assert.ok(watch.after !== undefined && watch.after >= position, `the watcher starts after the snapshot (${watch.after} >= ${position})`);
    assert.deepEqual(calls.map((id) => joiner.cluster.view.claim(id)?.nodeId), ['a', 'a', 'b']);

    await c.node('a').crash();
    await c.node('b').crash();
    await c.advance(5000, 50);
    assert.deepEqual(joiner.runtime.liveCalls().sort(), [...calls].sort(), 'z took every call over');
    assert.deepEqual(c.leaders(), ['z']);
    await c.close();
  });

  it('a malformed snapshot is ignored: the joiner reads the whole history', async () => {
    const c = await makeCluster(['a'], { script: [], snapshotEveryMs: 3_600_000 });
    const callId = c.sip.offer('a');
    await c.advance(100);
    await c.store.append('cluster-snapshot', [{ ...clusterEventData({ type: 'LeadershipClaimed', data: { nodeId: 'x', incarnation: 'y', term: 1 } }, 0, 'evil'), type: 'ClusterViewSnapshot', data: { v: 1, position: 10 ** 9, nodes: 'lots' } }]);
    const b = await c.addNode('b');
    assert.equal(b.cluster.view.claim(callId)?.nodeId, 'a');
    assert.ok(b.logs.some((l) => l.msg === 'cluster snapshot malformed; reading the whole cluster history'));
    await c.close();
  });

  it('snapshot round trip keeps claims, leases and the leader', () => {
    const v = new ClusterView();
    const rec = (streamId: string, revision: number, position: number, e: Parameters<typeof clusterEventData>[0]) => ({ ...clusterEventData(e, 0, 'n'), streamId, revision, position });
    v.apply(rec('node-a', 0, 0, { type: 'NodeHeartbeat', data: { nodeId: 'a', incarnation: 'a1', leaseMs: 3000, leaseUntil: new Date(5000).toISOString() } }), 2000);
    v.apply(rec('owner-k', 0, 1, { type: 'CallClaimed', data: { nodeId: 'a', incarnation: 'a1', cause: 'started' } }), 2000);
    v.apply(rec('leader', 0, 2, { type: 'LeadershipClaimed', data: { nodeId: 'a', incarnation: 'a1', term: 4 } }), 2000);
    const snap = JSON.parse(JSON.stringify(v.snapshot(2))) as unknown;
    const w = ClusterView.fromSnapshot(snap, 9000)!;
    assert.deepEqual(w.claim('k'), v.claim('k'));
    assert.deepEqual(w.leader, v.leader);
    assert.equal(w.expiryOf({ nodeId: 'a', incarnation: 'a1' }), 12_000, 'leases counted afresh from the load');
    assert.equal(ClusterView.fromSnapshot({ ...(snap as object), claims: [['k', 7, 0]] }, 0), undefined, 'bad owner index refused');
  });
});
