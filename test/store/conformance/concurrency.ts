/** Conformance: many appends in flight at once. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCodes, isVoxError } from '../../../src/domain/errors.ts';
import type { AppendResult, ExpectedRevision } from '../../../src/store/port.ts';
import { evs, uniquePrefix, withStore, type StoreFactory } from './helpers.ts';

/** Exactly one of `settled` succeeded; every other one is a conflict. */
function assertOneWinner(settled: PromiseSettledResult<AppendResult>[]): void {
  const won = settled.filter((r) => r.status === 'fulfilled');
  assert.equal(won.length, 1, 'exactly one append wins');
  for (const r of settled) {
    if (r.status === 'rejected') assert.ok(isVoxError(r.reason, ErrorCodes.WRONG_EXPECTED_REVISION), `a conflict, got ${String(r.reason)}`);
  }
}

export function concurrencyCases(factory: StoreFactory): void {
  describe('concurrency', () => {
    it('1,000 concurrent appends to 1,000 streams are all acknowledged with distinct, increasing positions', () =>
      withStore(factory, async (store) => {
        const p = uniquePrefix();
        const start = await store.headPosition();
        const batches = Array.from({ length: 1000 }, () => evs(1));
        const results = await Promise.all(batches.map((b, i) => store.append(`${p}${i}`, b, { expectedRevision: 'no_stream' })));
        for (const r of results) assert.equal(r.nextExpectedRevision, 0);
        const positions = results.map((r) => r.position);
        assert.equal(new Set(positions).size, 1000, 'distinct positions');
        const all = await store.readAll({ after: start, streamPrefixes: [p] });
        assert.equal(all.length, 1000);
        for (let i = 1; i < all.length; i++) assert.ok(all[i]!.position > all[i - 1]!.position, 'increasing positions');
        const byPosition = new Map(all.map((e) => [e.position, e.id]));
        results.forEach((r, i) => assert.equal(byPosition.get(r.position), batches[i]![0]!.id, 'each result names its own event'));
      }));

    for (const expected of ['no_stream', 2] as ExpectedRevision[]) {
      it(`concurrent appends to one stream expecting ${String(expected)}: exactly one wins`, () =>
        withStore(factory, async (store) => {
          const s = `${uniquePrefix()}s`;
          if (expected === 2) await store.append(s, evs(3));
          const before = expected === 2 ? 3 : 0;
          const settled = await Promise.allSettled(Array.from({ length: 20 }, () => store.append(s, evs(2), { expectedRevision: expected })));
          assertOneWinner(settled);
          assert.equal((await store.readStream(s)).length, before + 2);
        }));
    }

    it('streams appended to concurrently, each in turn with exact revisions, keep gap-free revisions', () =>
      withStore(factory, async (store) => {
        const p = uniquePrefix();
        const streams = Array.from({ length: 50 }, (_, i) => `${p}${i}`);
        await Promise.all(
          streams.map(async (s) => {
            let expected: ExpectedRevision = 'no_stream';
            for (let turn = 0; turn < 10; turn++) {
              const r = await store.append(s, evs(1 + (turn % 3)), { expectedRevision: expected });
              expected = r.nextExpectedRevision;
            }
          }),
        );
        for (const s of streams) {
          const revisions = (await store.readStream(s)).map((e) => e.revision);
          assert.deepEqual(revisions, Array.from({ length: revisions.length }, (_, i) => i));
          assert.equal(revisions.length, 19);
        }
      }));

    it('a refused append in the middle of concurrent ones does not affect the others', () =>
      withStore(factory, async (store) => {
        const p = uniquePrefix();
        await store.append(`${p}taken`, evs(1));
        const settled = await Promise.allSettled([
          store.append(`${p}a`, evs(2), { expectedRevision: 'no_stream' }),
          store.append(`${p}taken`, evs(1), { expectedRevision: 'no_stream' }),
          store.append(`${p}b`, evs(1), { expectedRevision: 'no_stream' }),
        ]);
        assert.deepEqual(settled.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
        assert.equal((await store.readStream(`${p}a`)).length, 2);
        assert.equal((await store.readStream(`${p}taken`)).length, 1);
        assert.equal((await store.readStream(`${p}b`)).length, 1);
      }));
  });
}
