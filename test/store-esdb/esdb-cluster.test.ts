/**
 * The adapter on a cluster connection string (gossip discovery, nodePreference=leader) against a
 * three-node EventStoreDB gRPC double sharing one log: the client finds the leader through
 * gossip, follows NotLeader to a newly elected leader, and rediscovers when the leader dies —
 * and every append is written exactly once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EsdbEventStore } from '../../src/store/esdb-store.ts';
import type { RecordedEvent } from '../../src/store/port.ts';
import { EsdbDoubleCluster } from './esdb-grpc-double.ts';
import { event, events, sleep, waitFor } from './helpers.ts';

async function withCluster(fn: (cluster: EsdbDoubleCluster, store: EsdbEventStore) => Promise<void>): Promise<void> {
  const cluster = await EsdbDoubleCluster.start(3);
  const store = await EsdbEventStore.connect({ connectionString: cluster.connectionString, retry: { attempts: 6, backoffMs: 20 } });
  try {
    await fn(cluster, store);
  } finally {
    await store.close();
    await cluster.stop();
  }
}

describe('esdb adapter on a cluster (against an EventStoreDB gRPC double cluster)', () => {
  it('discovers the leader through gossip and writes to it', async () => {
    const cluster = await EsdbDoubleCluster.start(3);
    try {
      cluster.electLeader(2);
      const store = await EsdbEventStore.connect({ connectionString: cluster.connectionString });
      try {
        await store.append('call-1', events(2), { expectedRevision: 'no_stream' });
      } finally {
        await store.close();
      }
      assert.deepEqual(
        cluster.db.writes.filter((w) => w.streamId === 'call-1').map((w) => [w.node, w.outcome]),
        [['node2', 'success']],
      );
      assert.ok((cluster.nodes[2]!.calls.get('Gossip.Read') ?? 0) + (cluster.nodes[0]!.calls.get('Gossip.Read') ?? 0) + (cluster.nodes[1]!.calls.get('Gossip.Read') ?? 0) >= 1);
    } finally {
      await cluster.stop();
    }
  });

  it('after an election, NotLeader from the old leader sends the retry to the new one; written once', () =>
    withCluster(async (cluster, store) => {
      await store.append('call-2', [event()], { expectedRevision: 'no_stream' });
      const oldLeader = cluster.leader.name;
      cluster.electLeader(cluster.nodes.findIndex((n) => n !== cluster.leader));
      const batch = events(2);
      const r = await store.append('call-2', batch, { expectedRevision: 0 });
      assert.equal(r.nextExpectedRevision, 2);
      const writes = cluster.db.writes.filter((w) => w.streamId === 'call-2').slice(1);
      assert.deepEqual(
        writes.map((w) => [w.node, w.outcome]),
        [
          [oldLeader, 'fault'],
          [cluster.leader.name, 'success'],
        ],
      );
      for (const w of writes) assert.deepEqual(w.eventIds, batch.map((e) => e.id));
      assert.equal(cluster.db.stream('call-2')!.length, 3);
    }));

  it('when the leader dies and another is elected, the client rediscovers it and the append succeeds', () =>
    withCluster(async (cluster, store) => {
      await store.append('call-3', [event()], { expectedRevision: 'no_stream' });
      const dead = cluster.leader;
      await dead.stop();
      cluster.electLeader(cluster.nodes.findIndex((n) => n !== dead));
      const r = await store.append('call-3', [event()], { expectedRevision: 0 });
      assert.equal(r.nextExpectedRevision, 1);
      assert.equal(cluster.db.stream('call-3')!.length, 2);
      assert.equal(cluster.db.writes.filter((w) => w.streamId === 'call-3' && w.outcome === 'success').at(-1)!.node, cluster.leader.name);
    }));

  it('a subscription follows the cluster through a leader failure without gaps or repeats', () =>
    withCluster(async (cluster, store) => {
      const got: RecordedEvent[] = [];
      const sub = store.subscribeToAll({ streamPrefixes: ['call-'] }, (e) => void got.push(e));
      await sub.caughtUp;
      await store.append('call-4', events(2));
      await waitFor(() => got.length === 2, 'events before the failure');
      const dead = cluster.leader;
      await dead.stop();
      cluster.electLeader(cluster.nodes.findIndex((n) => n !== dead));
      await store.append('call-4', events(2));
      await waitFor(() => got.length >= 4, 'events after the failure');
      await sleep(30);
      await sub.close();
      assert.deepEqual(got.map((e) => e.revision), [0, 1, 2, 3]);
    }));
});
