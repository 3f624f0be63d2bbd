import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { RecordedEvent } from '../../src/store/port.ts';
import { ClusterView } from '../../src/cluster/cluster-view.ts';
import { clusterEventData, type ClusterEvent } from '../../src/cluster/cluster-events.ts';
import { preferenceOrder, rankOf } from '../../src/cluster/rendezvous.ts';

let position = 0;
const revisions = new Map<string, number>();
function rec(streamId: string, e: ClusterEvent): RecordedEvent {
  const revision = (revisions.get(streamId) ?? -1) + 1;
  revisions.set(streamId, revision);
  return { ...clusterEventData(e, 0, 'n'), streamId, revision, position: position++ };
}
const hb = (nodeId: string, incarnation: string, leaseUntil: number, leaving = false): RecordedEvent =>
  rec(`node-${nodeId}`, { type: 'NodeHeartbeat', data: { nodeId, incarnation, leaseMs: 3000, leaseUntil: new Date(leaseUntil).toISOString(), ...(leaving ? { leaving } : {}) } });
const claim = (callId: string, nodeId: string, incarnation: string): RecordedEvent => rec(`owner-${callId}`, { type: 'CallClaimed', data: { nodeId, incarnation, cause: 'started' } });

describe('cluster view (pure fold of the cluster streams)', () => {
  it('a lease ends at the later of the written end and leaseMs after it was seen', () => {
    const v = new ClusterView();
    v.apply(hb('a', 'a1', 10_000), 5_000);
    assert.equal(v.expiryOf({ nodeId: 'a', incarnation: 'a1' }), 10_000);
    v.apply(hb('a', 'a1', 10_000), 9_000);
    assert.equal(v.expiryOf({ nodeId: 'a', incarnation: 'a1' }), 12_000, 'seen late: counted from when seen');
    assert.ok(v.isAlive({ nodeId: 'a', incarnation: 'a1' }, 11_999));
    assert.ok(!v.isAlive({ nodeId: 'a', incarnation: 'a1' }, 12_000));
    assert.equal(v.expiryOf({ nodeId: 'zz', incarnation: 'q' }), -Infinity, 'never seen: dead');
  });

  it('a new incarnation retires the previous one at once; a leaving heartbeat ends the lease when written', () => {
    const v = new ClusterView();
    v.apply(hb('a', 'a1', 10_000), 7_000);
    const ch = v.apply(hb('a', 'a2', 11_000), 8_000);
    assert.deepEqual(ch.kind === 'heartbeat' && ch.retired, { nodeId: 'a', incarnation: 'a1' });
    assert.ok(!v.isAlive({ nodeId: 'a', incarnation: 'a1' }, 8_000));
    assert.ok(v.isAlive({ nodeId: 'a', incarnation: 'a2' }, 8_000));
    v.apply(hb('a', 'a2', 8_500, true), 8_500);
    assert.ok(!v.isAlive({ nodeId: 'a', incarnation: 'a2' }, 8_500));
    assert.deepEqual(v.liveNodes(8_500), []);
  });

  it('claims follow the owner stream; a release forgets the call; junk keeps the claim but moves the revision', () => {
    const v = new ClusterView();
    v.apply(claim('c1', 'a', 'a1'), 0);
    v.apply(claim('c2', 'a', 'a1'), 0);
    assert.deepEqual(v.claimsOf({ nodeId: 'a', incarnation: 'a1' }).sort(), ['c1', 'c2']);
    v.apply(rec('owner-c1', { type: 'CallClaimed', data: { nodeId: 'b', incarnation: 'b1', cause: 'takeover', from: { nodeId: 'a', incarnation: 'a1' } } }), 0);
    assert.deepEqual(v.claimsOf({ nodeId: 'a', incarnation: 'a1' }), ['c2']);
    assert.deepEqual(v.claim('c1'), { callId: 'c1', nodeId: 'b', incarnation: 'b1', revision: 1 });
    const junk: RecordedEvent = { ...rec('owner-c1', { type: 'CallReleased', data: { nodeId: 'b', incarnation: 'b1', reason: 'ended' } }), data: { nodeId: 42 } };
    v.apply(junk, 0);
    assert.equal(v.claim('c1')!.revision, 2, 'the next claim must expect the junk event');
    v.apply(rec('owner-c1', { type: 'CallReleased', data: { nodeId: 'b', incarnation: 'b1', reason: 'ended' } }), 0);
    assert.equal(v.claim('c1'), undefined);
    assert.equal(v.claimCount, 1);
  });

  it('leader: the last claim holds until released by its holder; terms only grow', () => {
    const v = new ClusterView();
    v.apply(rec('leader', { type: 'LeadershipClaimed', data: { nodeId: 'a', incarnation: 'a1', term: 1 } }), 0);
    v.apply(rec('leader', { type: 'LeadershipReleased', data: { nodeId: 'b', incarnation: 'b1', term: 1 } }), 0);
    assert.equal(v.leader!.holder!.nodeId, 'a', 'a release by someone else changes nothing');
    v.apply(rec('leader', { type: 'LeadershipReleased', data: { nodeId: 'a', incarnation: 'a1', term: 1 } }), 0);
    assert.equal(v.leader!.holder, undefined);
    assert.equal(v.leader!.term, 1);
    assert.equal(v.leader!.revision, 2);
  });

  it('nextExpiry: the earliest lease end among other owners and the leader', () => {
    const v = new ClusterView();
    v.apply(hb('a', 'a1', 9_000), 6_000);
    v.apply(hb('b', 'b1', 7_000), 4_000);
    v.apply(hb('c', 'c1', 5_000), 2_000);
    v.apply(claim('x', 'a', 'a1'), 6_000);
    v.apply(claim('y', 'b', 'b1'), 6_000);
    assert.equal(v.nextExpiry(6_000, { nodeId: 'c', incarnation: 'c1' }), 7_000);
    assert.equal(v.nextExpiry(6_000, { nodeId: 'b', incarnation: 'b1' }), 9_000, 'itself excluded');
    v.apply(rec('leader', { type: 'LeadershipClaimed', data: { nodeId: 'c', incarnation: 'c1', term: 1 } }), 6_000);
    assert.equal(v.nextExpiry(4_000, { nodeId: 'a', incarnation: 'a1' }), 5_000, 'the leader counts');
  });

  it('rendezvous order: every node computes the same permutation, and the first choice spreads evenly', () => {
    fc.assert(
      fc.property(fc.string(), fc.uniqueArray(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 8 }), (callId, nodes) => {
        const order = preferenceOrder(callId, nodes);
        assert.deepEqual([...order].sort(), [...nodes].sort());
        assert.deepEqual(preferenceOrder(callId, [...nodes].reverse()), order, 'independent of input order');
        order.forEach((n, i) => assert.equal(rankOf(callId, n, nodes), i));
      }),
    );
    const firsts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const f = preferenceOrder(`call-${i}`, ['n1', 'n2', 'n3'])[0]!;
      firsts.set(f, (firsts.get(f) ?? 0) + 1);
    }
    for (const n of ['n1', 'n2', 'n3']) assert.ok(firsts.get(n)! > 850 && firsts.get(n)! < 1150, `${n}: ${firsts.get(n)}`);
  });
});
