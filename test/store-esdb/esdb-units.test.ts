/** Unit tests of the EventStoreDB adapter's pure parts: host descriptions, id mapping, positions, stream knowledge. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeHosts, usesDnsDiscovery } from '../../src/store/esdb/connection-string.ts';
import { ORIGINAL_ID_KEY, fromResolved, storedId, toPosition } from '../../src/store/esdb/event-codec.ts';
import { StreamIdCache } from '../../src/store/esdb/stream-ids.ts';
import { backoffDelay, normaliseRetry } from '../../src/store/esdb/retry.ts';

describe('esdb connection strings in messages', () => {
  it('keeps the hosts and drops scheme, credentials and options', () => {
    assert.equal(describeHosts('esdb://127.0.0.1:2113?tls=false'), '127.0.0.1:2113');
    assert.equal(describeHosts('esdb://admin:changeit@a:2113,b:2113,c:2113?tls=true&nodePreference=leader'), 'a:2113,b:2113,c:2113');
    assert.equal(describeHosts('esdb+discover://user:pw@cluster.example.com:2113'), 'cluster.example.com:2113');
    assert.equal(usesDnsDiscovery('esdb+discover://x:1'), true);
    assert.equal(usesDnsDiscovery('esdb://x:1'), false);
  });

  it('never lets any part of a password through, whatever it contains', () => {
    for (const pw of ['s3cr3t', 'p?w/d,x', 'a:b', 'x%40y', 'tls=false']) {
      const d = describeHosts(`esdb://admin:${pw}@host-1:2113?tls=false`);
      assert.equal(d, 'host-1:2113', pw);
    }
    for (const bad of ['garbage admin:s3cr3t', 'esdb://admin:s3cr3t host:2113', 'esdb://admins3cr3t@']) {
      assert.doesNotMatch(describeHosts(bad), /s3cr3t/, bad);
    }
    assert.equal(describeHosts('esdb://[::1]:2113?tls=false'), '[::1]:2113');
  });
});

describe('esdb event ids', () => {
  it('UUIDs in canonical form are kept; anything else maps to a stable name-based UUID', () => {
    const u = '0f8fad5b-d9cb-469f-a165-70867728950e';
    assert.equal(storedId(u), u);
    const upper = u.toUpperCase();
    assert.notEqual(storedId(upper), upper);
    assert.equal(storedId('evt-1'), storedId('evt-1'));
    assert.notEqual(storedId('evt-1'), storedId('evt-2'));
    assert.match(storedId('evt-1'), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('the original id comes back from the metadata only when it maps to the stored id', () => {
    const recorded = (id: string, metadata: unknown) =>
      fromResolved({ event: { id, streamId: 's', revision: 0n, type: 'T', data: {}, metadata, isJson: true, created: new Date(0), position: { commit: 5n, prepare: 5n } } } as never)!;
    const ok = recorded(storedId('evt-1'), { callId: 'c', [ORIGINAL_ID_KEY]: 'evt-1' });
    assert.equal(ok.id, 'evt-1');
    assert.deepEqual(ok.metadata, { callId: 'c' });
    const forged = recorded('0f8fad5b-d9cb-469f-a165-70867728950e', { [ORIGINAL_ID_KEY]: 'evt-1' });
    assert.equal(forged.id, '0f8fad5b-d9cb-469f-a165-70867728950e');
    assert.equal(recorded(storedId('x'), new Uint8Array([1])).metadata.callId, undefined, 'binary metadata becomes {}');
  });

  it('positions: uint64 "no position" and absent positions are unknown', () => {
    assert.equal(toPosition(18446744073709551615n), undefined);
    assert.equal(toPosition(undefined), undefined);
    assert.equal(toPosition(1234n), 1234);
  });
});

describe('esdb stream knowledge', () => {
  const ev = (id: string, revision: number, position = revision * 100) => ({ id, revision, position });

  it('grows only contiguously from revision 0, and forgets a stream on a disagreement', () => {
    const c = new StreamIdCache();
    c.extend('s', 1, [ev('b', 1)]);
    assert.equal(c.get('s'), undefined, 'no knowledge without revision 0');
    c.extend('s', 0, [ev('a', 0), ev('b', 1)]);
    c.extend('s', 1, [ev('b', 1), ev('c', 2)]);
    assert.deepEqual(c.get('s')!.ids, ['a', 'b', 'c']);
    c.extend('s', 2, [ev('X', 2)]);
    assert.equal(c.get('s'), undefined, 'an overlap that disagrees drops the stream');
  });

  it('records appends: last position known, earlier ones -1; a gap forgets the stream', () => {
    const c = new StreamIdCache();
    c.recordAppend('s', ['a', 'b'], 1, 700);
    assert.deepEqual(c.get('s')!.positions, [-1, 700]);
    c.recordAppend('s', ['d'], 3, 900);
    assert.equal(c.get('s'), undefined);
  });

  it('streams not numbered from 0 or longer than the bound are given up on; the LRU bound holds', () => {
    const c = new StreamIdCache(2, 3);
    c.extend('t', 0, [ev('a', 5)]);
    assert.equal(c.isTooLong('t'), true);
    c.extend('long', 0, [ev('a', 0), ev('b', 1), ev('c', 2), ev('d', 3)]);
    assert.equal(c.isTooLong('long'), true);
    c.extend('x', 0, [ev('a', 0)]);
    c.extend('y', 0, [ev('a', 0)]);
    c.get('x');
    c.extend('z', 0, [ev('a', 0)]);
    assert.equal(c.size, 2);
    assert.ok(c.get('x') !== undefined && c.get('y') === undefined, 'the least recently used stream went');
  });
});

describe('esdb retry policy', () => {
  it('validates and backs off exponentially, capped', () => {
    assert.throws(() => normaliseRetry({ attempts: 0 }), RangeError);
    assert.throws(() => normaliseRetry({ backoffMs: -1 }), RangeError);
    const p = normaliseRetry({ attempts: 10, backoffMs: 100 });
    assert.deepEqual([1, 2, 3, 9].map((a) => backoffDelay(p, a)), [100, 200, 400, 2000]);
  });
});
