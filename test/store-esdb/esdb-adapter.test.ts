/**
 * EventStoreDB adapter behaviour beyond the conformance suite: error mapping, retries with the
 * same event ids, connection failures, node restarts, leader changes, system events, ids that
 * are not UUIDs. All against the gRPC double (test/store-esdb/esdb-grpc-double.ts) through the
 * real @eventstore/db-client, in both server generations where the client's write path differs
 * (BatchAppend on 21.10+, Append on 20.x).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCodes, isVoxError, VoxError } from '../../src/domain/errors.ts';
import { EsdbEventStore, type EsdbConnectOptions } from '../../src/store/esdb-store.ts';
import { WrongExpectedRevisionError, type RecordedEvent } from '../../src/store/port.ts';
import { EsdbGrpcDouble } from './esdb-grpc-double.ts';
import { captureLog, closedPort, event, events, silentServer, sleep, waitFor } from './helpers.ts';
import { rejection } from '../support/rejection.ts';

const FAST_RETRY = { attempts: 4, backoffMs: 10 };

async function withNode(
  options: { generation?: 'modern' | 'legacy'; connect?: Partial<EsdbConnectOptions> },
  fn: (node: EsdbGrpcDouble, store: EsdbEventStore) => Promise<void>,
): Promise<void> {
  const node = await EsdbGrpcDouble.start({ generation: options.generation ?? 'modern' });
  const store = await EsdbEventStore.connect({ connectionString: node.connectionString, retry: FAST_RETRY, ...options.connect });
  try {
    await fn(node, store);
  } finally {
    await store.close();
    await node.stop();
  }
}

for (const generation of ['modern', 'legacy'] as const) {
  const via = generation === 'modern' ? 'BatchAppend' : 'Append';

  describe(`esdb adapter writes through ${via} (against an EventStoreDB gRPC double)`, () => {
    it('a conflict on a missing stream is WrongExpectedRevisionError with actual no_stream, never a SyntaxError', () =>
      withNode({ generation }, async (_node, store) => {
        for (const expectedRevision of [0, 3, 'stream_exists'] as const) {
          const e = await rejection(store.append('call-missing', [event()], { expectedRevision }));
          assert.ok(e instanceof WrongExpectedRevisionError, `got ${String(e)}`);
          assert.equal(e.code, ErrorCodes.WRONG_EXPECTED_REVISION);
          assert.equal(e.actual, 'no_stream');
          assert.equal(e.expected, expectedRevision);
          assert.equal(e.streamId, 'call-missing');
        }
      }));

    it('a conflict on an existing stream reports its actual revision as a number', () =>
      withNode({ generation }, async (_node, store) => {
        await store.append('call-1', events(3));
        const e = await rejection(store.append('call-1', [event()], { expectedRevision: 'no_stream' }));
        assert.ok(e instanceof WrongExpectedRevisionError);
        assert.equal(e.actual, 2);
        const e2 = await rejection(store.append('call-1', [event()], { expectedRevision: 7 }));
        assert.ok(e2 instanceof WrongExpectedRevisionError);
        assert.deepEqual([e2.expected, e2.actual], [7, 2]);
      }));

    it('NotLeader, then success: the append is retried with the same event ids and written once', () =>
      withNode({ generation }, async (node, store) => {
        node.faults.add({ target: 'write', kind: 'not-leader' });
        const batch = events(2);
        const r = await store.append('call-nl', batch, { expectedRevision: 'no_stream' });
        assert.equal(r.nextExpectedRevision, 1);
        const writes = node.db.writes.filter((w) => w.streamId === 'call-nl');
        assert.deepEqual(
          writes.map((w) => w.outcome),
          ['fault', 'success'],
        );
        for (const w of writes) assert.deepEqual(w.eventIds, batch.map((e) => e.id));
        const stored = await store.readStream('call-nl');
        assert.deepEqual(stored.map((e) => e.id), batch.map((e) => e.id));
        assert.equal(stored[1]!.position, r.position);
      }));

    it('a lost acknowledgement (UNAVAILABLE after the commit) is retried and deduplicated by the server', () =>
      withNode({ generation }, async (node, store) => {
        node.faults.add({ target: 'write', kind: 'unavailable', afterCommit: true });
        const batch = events(3);
        const r = await store.append('call-lost', batch, { expectedRevision: 'no_stream' });
        const stored = await store.readStream('call-lost');
        assert.equal(stored.length, 3, 'written once');
        assert.deepEqual(r, { nextExpectedRevision: 2, position: stored[2]!.position });
        assert.equal(node.db.writes.filter((w) => w.streamId === 'call-lost').length, 2);
      }));

    it('UNAVAILABLE, DEADLINE_EXCEEDED and a commit timeout once each are retried', () =>
      withNode({ generation }, async (node, store) => {
        for (const kind of ['unavailable', 'deadline-exceeded', 'timeout'] as const) {
          node.faults.add({ target: 'write', kind });
          const r = await store.append(`call-${kind}`, [event()], { expectedRevision: 'no_stream' });
          assert.equal(r.nextExpectedRevision, 0, kind);
          assert.equal((await store.readStream(`call-${kind}`)).length, 1, kind);
        }
      }));

    it('when every attempt fails, the append fails with STORE_UNAVAILABLE naming the host and writes nothing', () =>
      withNode({ generation }, async (node, store) => {
        node.faults.add({ target: 'write', kind: 'not-leader' }, FAST_RETRY.attempts);
        const e = await rejection(store.append('call-down', [event()]));
        assert.ok(isVoxError(e, ErrorCodes.STORE_UNAVAILABLE), `got ${String(e)}`);
        assert.match((e as VoxError).message, new RegExp(`127\\.0\\.0\\.1:${node.port}`));
        assert.equal(node.db.writes.filter((w) => w.streamId === 'call-down').length, FAST_RETRY.attempts);
        assert.equal(node.db.stream('call-down'), undefined);
      }));
  });
}

describe('esdb adapter connection (against an EventStoreDB gRPC double)', () => {
  it('an unreachable server at start is STORE_UNAVAILABLE, quickly, naming the host and never the password', async () => {
    const port = await closedPort();
    const t0 = Date.now();
    const { lines, log } = captureLog();
    const e = await rejection(
      EsdbEventStore.connect({ connectionString: `esdb://admin:s3cr3t-pw@127.0.0.1:${port}?tls=false`, retry: { attempts: 3, backoffMs: 20 }, log }),
    );
    const elapsed = Date.now() - t0;
    assert.ok(isVoxError(e, ErrorCodes.STORE_UNAVAILABLE), `got ${String(e)}`);
    assert.ok(elapsed < 5000, `took ${elapsed} ms`);
    assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
    const everything = [e.message, JSON.stringify(e), JSON.stringify(e.details), String((e.cause as Error | undefined)?.message), ...lines].join('\n');
    assert.doesNotMatch(everything, /s3cr3t-pw/);
    assert.ok(lines.some((l) => l.includes('"level":"warn"')), 'retries are logged');
  });

  it('a node that accepts connections but never answers is STORE_UNAVAILABLE after the connect timeout', async () => {
    const hung = await silentServer();
    try {
      const t0 = Date.now();
      const e = await rejection(EsdbEventStore.connect({ connectionString: `esdb://127.0.0.1:${hung.port}?tls=false`, connectTimeoutMs: 300, retry: { attempts: 1, backoffMs: 0 } }));
      assert.ok(isVoxError(e, ErrorCodes.STORE_UNAVAILABLE), `got ${String(e)}`);
      assert.ok(Date.now() - t0 < 5000);
    } finally {
      await hung.close();
    }
  });

  it('a malformed connection string is CONFIG_INVALID and does not echo the password', async () => {
    const e = await rejection(EsdbEventStore.connect({ connectionString: 'esdb://admin:s3cr3t-pw@127.0.0.1:2113?tls=maybe' }));
    assert.ok(isVoxError(e, ErrorCodes.CONFIG_INVALID), `got ${String(e)}`);
    assert.doesNotMatch(`${e.message} ${JSON.stringify(e)}`, /s3cr3t-pw/);
  });

  it('a stopped node fails appends with STORE_UNAVAILABLE; once it is back, the same store works again', () =>
    withNode({}, async (node, store) => {
      await store.append('call-r', [event()], { expectedRevision: 'no_stream' });
      await node.stop();
      const e = await rejection(store.append('call-r', [event()], { expectedRevision: 0 }));
      assert.ok(isVoxError(e, ErrorCodes.STORE_UNAVAILABLE), `got ${String(e)}`);
      await rejection(store.readStream('call-r'));
      await node.restart();
      const r = await store.append('call-r', [event()], { expectedRevision: 0 });
      assert.equal(r.nextExpectedRevision, 1);
    }));

  it('reads are retried through a transient failure', () =>
    withNode({}, async (node, store) => {
      await store.append('call-read', events(2));
      node.faults.add({ target: 'read', kind: 'unavailable' });
      assert.equal((await store.readStream('call-read')).length, 2);
      node.faults.add({ target: 'read', kind: 'not-leader' });
      assert.equal((await store.readAll({ streamPrefixes: ['call-read'] })).length, 2);
    }));
});

describe('esdb adapter subscriptions (against an EventStoreDB gRPC double)', () => {
  it('a subscription survives a node restart: it resubscribes after the last event delivered, none twice', () =>
    withNode({ connect: { retry: { attempts: 10, backoffMs: 20 } } }, async (node, store) => {
      const got: RecordedEvent[] = [];
      const sub = store.subscribeToAll({ streamPrefixes: ['call-'] }, (e) => void got.push(e));
      await store.append('call-a', events(2));
      await sub.caughtUp;
      await waitFor(() => got.length === 2, 'the first events');
      await node.stop();
      await sleep(30);
      await node.restart();
      await store.append('call-a', events(2));
      await store.append('call-b', events(1));
      await waitFor(() => got.length >= 5, 'events after the restart');
      await sleep(30);
      await sub.close();
      const all = await store.readAll({ streamPrefixes: ['call-'] });
      assert.deepEqual(got.map((e) => e.id), all.map((e) => e.id));
      assert.ok((node.calls.get('Read') ?? 0) >= 2);
    }));

  it('a subscription whose node stays down rejects done with STORE_UNAVAILABLE', () =>
    withNode({ connect: { retry: { attempts: 3, backoffMs: 10 } } }, async (node, store) => {
      const sub = store.subscribeToAll({ streamPrefixes: ['call-'] }, () => undefined);
      await sub.caughtUp;
      await node.stop();
      await assert.rejects(sub.done, (e: unknown) => isVoxError(e, ErrorCodes.STORE_UNAVAILABLE));
      await node.restart();
    }));
});

describe('esdb adapter event mapping (against an EventStoreDB gRPC double)', () => {
  it('system events ($-streams) are never read, delivered or counted as the head', () =>
    withNode({}, async (node, store) => {
      const r = await store.append('call-1', events(2));
      node.db.writeSystemEvent('$stats-127.0.0.1:2113', '$statsCollected', { cpu: 1 });
      assert.deepEqual((await store.readAll()).map((e) => e.streamId), ['call-1', 'call-1']);
      assert.equal(await store.headPosition(), r.position);
      const got: string[] = [];
      const sub = store.subscribeToAll({}, (e) => void got.push(e.streamId));
      await sub.caughtUp;
      node.db.writeSystemEvent('$stats-127.0.0.1:2113', '$statsCollected', { cpu: 2 });
      await store.append('other-1', events(1));
      await waitFor(() => got.length === 3, 'the live event');
      await sub.close();
      assert.deepEqual(got, ['call-1', 'call-1', 'other-1']);
    }));

  it('positions are EventStoreDB commit positions: increasing, not dense, the same in stream and $all reads', () =>
    withNode({}, async (node, store) => {
      await store.append('call-1', events(3));
      const stream = await store.readStream('call-1');
      const all = await store.readAll({ streamPrefixes: ['call-1'] });
      assert.deepEqual(stream.map((e) => e.position), all.map((e) => e.position));
      assert.deepEqual(stream.map((e) => e.position), node.db.stream('call-1')!.map((r) => r.position));
      assert.ok(stream[1]!.position - stream[0]!.position > 1, 'byte offsets, not a counter');
    }));

  it('event ids that are not UUIDs round-trip, and a retry with them is still idempotent', () =>
    withNode({}, async (node, store) => {
      const batch = [event('Tested', { a: 1 }, 'evt-1'), event('Tested', { a: 2 }, 'EVT-2')];
      const first = await store.append('call-ids', batch, { expectedRevision: 'no_stream' });
      assert.deepEqual(await store.append('call-ids', batch, { expectedRevision: 'no_stream' }), first);
      const stored = await store.readStream('call-ids');
      assert.deepEqual(stored.map((e) => e.id), ['evt-1', 'EVT-2']);
      assert.deepEqual(stored[0]!.metadata, batch[0]!.metadata, 'no trace of the id mapping in the metadata');
      for (const r of node.db.stream('call-ids')!) assert.match(r.id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }));

  it('data JSON cannot hold is INVALID_APPEND and nothing is sent', () =>
    withNode({}, async (node, store) => {
      const e = await rejection(store.append('call-bad', [event('Tested', { n: 10n })]));
      assert.ok(isVoxError(e, ErrorCodes.INVALID_APPEND), `got ${String(e)}`);
      assert.equal(node.db.writes.length, 0);
    }));

  it('known ids after a new first id are refused (INVALID_APPEND) before EventStoreDB could write them twice', () =>
    withNode({}, async (node, store) => {
      const [a, b] = events(2);
      await store.append('call-dup', [a!, b!]);
      const sent = node.db.writes.length;
      const e = await rejection(store.append('call-dup', [event(), b!]));
      assert.ok(isVoxError(e, ErrorCodes.INVALID_APPEND), `got ${String(e)}`);
      assert.equal(node.db.writes.length, sent, 'not sent: the server would have written it');
      assert.equal(node.db.stream('call-dup')!.length, 2);
    }));

  it('another writer on the same stream: a stale exact revision conflicts, and its events are then known', () =>
    withNode({}, async (node, store) => {
      const other = await EsdbEventStore.connect({ connectionString: node.connectionString, retry: FAST_RETRY });
      try {
        await store.append('call-shared', events(2), { expectedRevision: 'no_stream' });
        const theirs = events(1);
        await other.append('call-shared', theirs, { expectedRevision: 1 });
        const e = await rejection(store.append('call-shared', [event()], { expectedRevision: 1 }));
        assert.ok(e instanceof WrongExpectedRevisionError);
        assert.equal(e.actual, 2);
        // Their batch again, from us: a clean re-append, nothing written.
        const before = node.db.log.length;
        const again = await store.append('call-shared', theirs, { expectedRevision: 1 });
        assert.equal(again.nextExpectedRevision, 2);
        assert.equal(node.db.log.length, before);
      } finally {
        await other.close();
      }
    }));
});
