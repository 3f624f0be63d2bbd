/** Conformance: idempotent re-append, and ids reused in ways that are not a clean re-append. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCodes } from '../../../src/domain/errors.ts';
import type { EventStore, ExpectedRevision } from '../../../src/store/port.ts';
import { ev, evs, rejectsWith, uniquePrefix, withStore, type ConformanceOptions, type StoreFactory } from './helpers.ts';

async function ids(store: EventStore, streamId: string): Promise<string[]> {
  return (await store.readStream(streamId)).map((e) => e.id);
}

export function idempotencyCases(factory: StoreFactory, options: ConformanceOptions): void {
  describe('idempotent re-append', () => {
    for (const expectedRevision of ['no_stream', 'any', 'stream_exists', 0] as ExpectedRevision[]) {
      it(`re-appending the same ids at the same expected revision (${String(expectedRevision)}) succeeds and writes nothing`, () =>
        withStore(factory, async (store) => {
          const s = `${uniquePrefix()}s`;
          if (expectedRevision === 'stream_exists' || expectedRevision === 0) await store.append(s, evs(1));
          const batch = evs(3);
          const first = await store.append(s, batch, { expectedRevision });
          const head = await store.headPosition();
          const before = await ids(store, s);
          const again = await store.append(s, batch.map((e) => ({ ...e })), { expectedRevision });
          assert.deepEqual(again, first);
          assert.equal(await store.headPosition(), head);
          assert.deepEqual(await ids(store, s), before);
        }));
    }

    it('a retry succeeds even after the stream moved on (lost acknowledgement)', () =>
      withStore(factory, async (store) => {
        const s = `${uniquePrefix()}s`;
        const batch = evs(2);
        const first = await store.append(s, batch, { expectedRevision: 'no_stream' });
        await store.append(s, evs(2), { expectedRevision: 1 });
        assert.deepEqual(await store.append(s, batch, { expectedRevision: 'no_stream' }), first);
        assert.equal((await ids(store, s)).length, 4);
      }));

    it('re-appending a leading part of an earlier append succeeds and reports its own last event', () =>
      withStore(factory, async (store) => {
        const s = `${uniquePrefix()}s`;
        const batch = evs(3);
        await store.append(s, batch, { expectedRevision: 'no_stream' });
        const part = await store.append(s, batch.slice(0, 2), { expectedRevision: 'no_stream' });
        const stored = await store.readStream(s);
        assert.deepEqual(part, { nextExpectedRevision: 1, position: stored[1]!.position });
        assert.equal(stored.length, 3);
      }));

    it('the same append sent twice concurrently is written once and both succeed alike', () =>
      withStore(factory, async (store) => {
        const s = `${uniquePrefix()}s`;
        const batch = evs(2);
        const [a, b] = await Promise.all([store.append(s, batch), store.append(s, batch)]);
        assert.deepEqual(a, b);
        assert.deepEqual(await ids(store, s), batch.map((e) => e.id));
      }));

    it('new ids at a stale exact revision are a conflict, not a re-append', () =>
      withStore(factory, async (store) => {
        const s = `${uniquePrefix()}s`;
        await store.append(s, evs(2));
        await rejectsWith(store.append(s, evs(1), { expectedRevision: 0 }), ErrorCodes.WRONG_EXPECTED_REVISION);
      }));

    it('known ids at the wrong place in the stream are not a re-append', () =>
      withStore(factory, async (store) => {
        const s = `${uniquePrefix()}s`;
        const batch = evs(2);
        await store.append(s, batch);
        const head = await store.headPosition();
        // The ids stand at revisions 0..1, not after revision 1.
        await rejectsWith(store.append(s, batch, { expectedRevision: 1 }), ErrorCodes.INVALID_APPEND);
        // Same ids, other order.
        await rejectsWith(store.append(s, [batch[1]!, batch[0]!]), ErrorCodes.INVALID_APPEND);
        assert.equal(await store.headPosition(), head);
      }));

    it('a partial overlap is refused as a whole (INVALID_APPEND): the new events are not written', () =>
      withStore(factory, async (store) => {
        const s = `${uniquePrefix()}s`;
        const [a, b] = evs(2);
        await store.append(s, [a!, b!]);
        const head = await store.headPosition();
        const fresh = ev();
        await rejectsWith(store.append(s, [a!, fresh]), ErrorCodes.INVALID_APPEND);
        await rejectsWith(store.append(s, [fresh, b!]), ErrorCodes.INVALID_APPEND);
        await rejectsWith(store.append(s, [a!, b!, fresh]), ErrorCodes.INVALID_APPEND);
        assert.equal(await store.headPosition(), head);
        assert.deepEqual(await ids(store, s), [a!.id, b!.id]);
      }));

    if (options.uniqueEventIds !== false) {
      it('an id already stored in another stream is refused (INVALID_APPEND)', () =>
        withStore(factory, async (store) => {
          const p = uniquePrefix();
          const e = ev();
          await store.append(`${p}one`, [e]);
          const err = await rejectsWith(store.append(`${p}two`, [{ ...e }]), ErrorCodes.INVALID_APPEND);
          assert.match(err.message, new RegExp(e.id));
          await rejectsWith(store.readStream(`${p}two`), ErrorCodes.STREAM_NOT_FOUND);
        }));
    }
  });
}
