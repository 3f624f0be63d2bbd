/**
 * The EventStoreDB gRPC double itself, driven by the raw @eventstore/db-client: it must behave
 * as the real server does where the adapter depends on it (idempotency quirks included), or the
 * adapter tests prove nothing.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  jsonEvent,
  NotLeaderError,
  START,
  streamNameFilter,
  WrongExpectedVersionError,
  type AllStreamResolvedEvent,
} from '@eventstore/db-client';
import { EsdbGrpcDouble } from './esdb-grpc-double.ts';

async function withClient(generation: 'modern' | 'legacy', fn: (node: EsdbGrpcDouble, client: EventStoreDBClient) => Promise<void>): Promise<void> {
  const node = await EsdbGrpcDouble.start({ generation });
  const client = EventStoreDBClient.connectionString(node.connectionString);
  try {
    await fn(node, client);
  } finally {
    await client.dispose();
    await node.stop();
  }
}

const e = (id = randomUUID()) => jsonEvent({ id, type: 'T', data: { id } });

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('EventStoreDB gRPC double, as the real client sees it', () => {
  it('the client appends through BatchAppend on a modern node and through Append on a legacy (20.x) one', async () => {
    for (const [generation, method] of [
      ['modern', 'BatchAppend'],
      ['legacy', 'Append'],
    ] as const) {
      await withClient(generation, async (node, client) => {
        await client.appendToStream('s', e());
        assert.equal(node.calls.get(method), 1, generation);
        assert.equal(node.calls.get(method === 'Append' ? 'BatchAppend' : 'Append'), undefined, generation);
      });
    }
  });

  it('idempotency follows the server: a retry returns the original result; a new first id writes known ids again', () =>
    withClient('modern', async (node, client) => {
      const a = e();
      const b = e();
      const first = await client.appendToStream('s', [a, b], { expectedRevision: 'no_stream' });
      const again = await client.appendToStream('s', [a, b], { expectedRevision: 'no_stream' });
      assert.deepEqual(again, first);
      // Known ids in another order: the server accepts it as idempotent, reporting the last id's revision.
      const pa = BigInt(node.db.stream('s')![0]!.position);
      assert.deepEqual(await client.appendToStream('s', [b, a]), { success: true, nextExpectedRevision: 0n, position: { commit: pa, prepare: pa } });
      await client.appendToStream('s', [e(), b]);
      assert.equal(node.db.stream('s')!.length, 4, 'the server wrote b a second time');
      await assert.rejects(client.appendToStream('s', [a, e()]), WrongExpectedVersionError, 'corrupted idempotency');
      await client.appendToStream('s', [a, b], { expectedRevision: 3n });
      assert.equal(node.db.stream('s')!.length, 6, 'known ids at an exact revision that matches are written again');
      await assert.rejects(client.appendToStream('s', [a, b], { expectedRevision: 1n }), WrongExpectedVersionError, 'ids not at the revisions the expectation points to');
    }));

  it('a wrong expected version on a missing stream reaches the client as actualVersion "no_stream"', async () => {
    for (const generation of ['modern', 'legacy'] as const) {
      await withClient(generation, async (_node, client) => {
        const err = await client.appendToStream('missing', e(), { expectedRevision: 2n }).then(
          () => assert.fail('no conflict'),
          (x: unknown) => x,
        );
        assert.ok(err instanceof WrongExpectedVersionError);
        assert.equal(err.actualVersion, 'no_stream');
        assert.equal(err.expectedVersion, 2n);
      });
    }
  });

  it('$all reads: forwards from a position includes it, backwards from it excludes it; positions are byte offsets', () =>
    withClient('modern', async (_node, client) => {
      await client.appendToStream('s', [e(), e(), e()]);
      const all = await collect(client.readAll({ fromPosition: START }));
      const ours = all.filter((r) => r.event?.streamId === 's');
      const mid = ours[1]!.event!.position!;
      const fwd = await collect(client.readAll({ fromPosition: mid, direction: FORWARDS, maxCount: 1 }));
      assert.equal(fwd[0]!.event!.id, ours[1]!.event!.id);
      const back = await collect(client.readAll({ fromPosition: mid, direction: BACKWARDS, maxCount: 1 }));
      assert.equal(back[0]!.event!.id, ours[0]!.event!.id);
      const last = await collect(client.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 1 }));
      assert.equal(last[0]!.event!.id, ours[2]!.event!.id);
      assert.ok(all.some((r) => r.event!.streamId.startsWith('$')), 'a fresh node already holds system events');
    }));

  it('a filtered $all subscription: confirmation, matching events after the position, checkpoints, caughtUp, live events', () =>
    withClient('modern', async (_node, client) => {
      for (let i = 0; i < 40; i++) await client.appendToStream(`noise-${i}`, e());
      await client.appendToStream('call-1', e());
      const checkpoints: bigint[] = [];
      const sub = client.subscribeToAll({
        fromPosition: START,
        filter: streamNameFilter({ prefixes: ['call-'], checkpointReached: (_s, p) => void checkpoints.push(p.commit) }),
      });
      const seen: string[] = [];
      let confirmed = false;
      let caughtUpAfter = -1;
      sub.on('confirmation', () => (confirmed = true));
      sub.on('caughtUp', () => {
        caughtUpAfter = seen.length;
        void client.appendToStream('call-2', e());
      });
      for await (const r of sub as AsyncIterable<AllStreamResolvedEvent>) {
        seen.push(r.event!.streamId);
        if (seen.length === 2) break;
      }
      await sub.unsubscribe();
      assert.ok(confirmed);
      assert.deepEqual(seen, ['call-1', 'call-2']);
      assert.ok(caughtUpAfter >= 0);
      assert.ok(checkpoints.length >= 1, 'a checkpoint at least every 32 records considered and on catching up');
    }));

  it('a not-leader fault reaches the client as NotLeaderError naming the leader endpoint', () =>
    withClient('legacy', async (node, client) => {
      node.faults.add({ target: 'write', kind: 'not-leader', leader: { host: '127.0.0.9', port: 2113 } });
      const err = await client.appendToStream('s', e()).then(
        () => assert.fail('no fault'),
        (x: unknown) => x,
      );
      assert.ok(err instanceof NotLeaderError);
      assert.deepEqual(err.leader, { address: '127.0.0.9', port: 2113 });
    }));
});
