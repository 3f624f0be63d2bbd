/** Conformance: appending, reading streams and the global log, expected revisions, validation. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCodes } from '../../../src/domain/errors.ts';
import { StreamNotFoundError, WrongExpectedRevisionError, type EventData, type EventStore } from '../../../src/store/port.ts';
import { ev, evs, rejectsWith, uniquePrefix, withStore, type StoreFactory } from './helpers.ts';

async function wrongRevision(p: Promise<unknown>): Promise<WrongExpectedRevisionError> {
  const e = await rejectsWith(p, ErrorCodes.WRONG_EXPECTED_REVISION);
  assert.ok(e instanceof WrongExpectedRevisionError, 'a WrongExpectedRevisionError instance');
  return e;
}

/** Asserts nothing was written: the head did not move and the stream is as it was. */
async function assertUnchanged(store: EventStore, head: number, streamId: string, length: number | 'missing'): Promise<void> {
  assert.equal(await store.headPosition(), head);
  if (length === 'missing') await rejectsWith(store.readStream(streamId), ErrorCodes.STREAM_NOT_FOUND);
  else assert.equal((await store.readStream(streamId)).length, length);
}

export function appendReadCases(factory: StoreFactory): void {
  describe('append and read', () => {
    it('assigns revisions from 0 per stream and strictly increasing positions, keeping every field', () =>
      withStore(factory, async (store) => {
        const p = uniquePrefix();
        const a1 = evs(2);
        const b1 = evs(1);
        const a2 = evs(3);
        const r1 = await store.append(`${p}a`, a1);
        const r2 = await store.append(`${p}b`, b1);
        const r3 = await store.append(`${p}a`, a2);
        assert.equal(r1.nextExpectedRevision, 1);
        assert.equal(r2.nextExpectedRevision, 0);
        assert.equal(r3.nextExpectedRevision, 4);
        assert.ok(r1.position < r2.position && r2.position < r3.position, 'positions increase across appends');
        const a = await store.readStream(`${p}a`);
        assert.deepEqual(a.map((e) => e.revision), [0, 1, 2, 3, 4]);
        assert.deepEqual(a.map((e) => e.id), [...a1, ...a2].map((e) => e.id));
        for (let i = 1; i < a.length; i++) assert.ok(a[i]!.position > a[i - 1]!.position, 'positions increase within a stream');
        assert.equal(a[1]!.position, r1.position, 'the result names the last event written');
        assert.equal(a[4]!.position, r3.position);
        const [written] = a;
        const sent = a1[0]!;
        assert.deepEqual(
          { id: written!.id, type: written!.type, data: written!.data, metadata: written!.metadata, streamId: written!.streamId },
          { id: sent.id, type: sent.type, data: sent.data, metadata: sent.metadata, streamId: `${p}a` },
        );
      }));

    it('readStream throws StreamNotFoundError for a missing stream', () =>
      withStore(factory, async (store) => {
        const e = await rejectsWith(store.readStream(`${uniquePrefix()}missing`), ErrorCodes.STREAM_NOT_FOUND);
        assert.ok(e instanceof StreamNotFoundError);
      }));

    it('readStream honours fromRevision, maxCount and direction', () =>
      withStore(factory, async (store) => {
        const s = `${uniquePrefix()}s`;
        await store.append(s, evs(5));
        const revs = async (o: Parameters<EventStore['readStream']>[1]) => (await store.readStream(s, o)).map((e) => e.revision);
        assert.deepEqual(await revs({ fromRevision: 2 }), [2, 3, 4]);
        assert.deepEqual(await revs({ maxCount: 2 }), [0, 1]);
        assert.deepEqual(await revs({ fromRevision: 1, maxCount: 2 }), [1, 2]);
        assert.deepEqual(await revs({ direction: 'backwards' }), [4, 3, 2, 1, 0]);
        assert.deepEqual(await revs({ direction: 'backwards', fromRevision: 2, maxCount: 2 }), [2, 1]);
        assert.deepEqual(await revs({ fromRevision: 9 }), []);
      }));

    it('readAll returns events in position order; after is exclusive; maxCount and streamPrefixes apply', () =>
      withStore(factory, async (store) => {
        const p = uniquePrefix();
        const start = await store.headPosition();
        const order: string[] = [];
        for (const [stream, n] of [['a-1', 2], ['b-1', 1], ['a-2', 1], ['b-1', 2]] as const) {
          const batch = evs(n);
          await store.append(`${p}${stream}`, batch);
          order.push(...batch.map((e) => e.id));
        }
        const all = await store.readAll({ after: start, streamPrefixes: [p] });
        assert.deepEqual(all.map((e) => e.id), order);
        for (let i = 1; i < all.length; i++) assert.ok(all[i]!.position > all[i - 1]!.position);
        const afterThird = await store.readAll({ after: all[2]!.position, streamPrefixes: [p] });
        assert.deepEqual(afterThird.map((e) => e.id), order.slice(3));
        assert.deepEqual((await store.readAll({ after: start, maxCount: 2, streamPrefixes: [p] })).map((e) => e.id), order.slice(0, 2));
        const onlyA = await store.readAll({ after: start, streamPrefixes: [`${p}a-`] });
        assert.deepEqual(onlyA.map((e) => e.streamId), [`${p}a-1`, `${p}a-1`, `${p}a-2`]);
        const both = await store.readAll({ after: start, streamPrefixes: [`${p}a-2`, `${p}b-`] });
        assert.deepEqual(both.map((e) => e.streamId), [`${p}b-1`, `${p}a-2`, `${p}b-1`, `${p}b-1`]);
        assert.deepEqual(await store.readAll({ after: all[all.length - 1]!.position, streamPrefixes: [p] }), []);
      }));

    it('headPosition is -1 on an empty store, then the position of the last event written', () =>
      withStore(factory, async (store) => {
        if ((await store.readAll({ maxCount: 1 })).length === 0) assert.equal(await store.headPosition(), -1);
        const r = await store.append(`${uniquePrefix()}h`, evs(3));
        assert.equal(await store.headPosition(), r.position);
      }));
  });

  describe('expected revision', () => {
    it('no_stream: succeeds on a new stream, conflicts on an existing one', () =>
      withStore(factory, async (store) => {
        const s = `${uniquePrefix()}s`;
        assert.equal((await store.append(s, evs(2), { expectedRevision: 'no_stream' })).nextExpectedRevision, 1);
        const head = await store.headPosition();
        const e = await wrongRevision(store.append(s, evs(1), { expectedRevision: 'no_stream' }));
        assert.deepEqual([e.streamId, e.expected, e.actual], [s, 'no_stream', 1]);
        await assertUnchanged(store, head, s, 2);
      }));

    it('stream_exists: conflicts (actual no_stream) on a missing stream, succeeds on an existing one', () =>
      withStore(factory, async (store) => {
        const s = `${uniquePrefix()}s`;
        const e = await wrongRevision(store.append(s, evs(1), { expectedRevision: 'stream_exists' }));
        assert.equal(e.actual, 'no_stream');
        await rejectsWith(store.readStream(s), ErrorCodes.STREAM_NOT_FOUND);
        await store.append(s, evs(1));
        assert.equal((await store.append(s, evs(1), { expectedRevision: 'stream_exists' })).nextExpectedRevision, 1);
      }));

    it('exact revision: conflicts on a missing stream and on a wrong revision, succeeds on the right one', () =>
      withStore(factory, async (store) => {
        const s = `${uniquePrefix()}s`;
        const missing = await wrongRevision(store.append(s, evs(1), { expectedRevision: 0 }));
        assert.deepEqual([missing.expected, missing.actual], [0, 'no_stream']);
        await store.append(s, evs(2));
        const head = await store.headPosition();
        for (const wrong of [0, 2, 7]) {
          const e = await wrongRevision(store.append(s, evs(1), { expectedRevision: wrong }));
          assert.deepEqual([e.expected, e.actual], [wrong, 1]);
        }
        await assertUnchanged(store, head, s, 2);
        assert.equal((await store.append(s, evs(2), { expectedRevision: 1 })).nextExpectedRevision, 3);
      }));

    it('any: always appends (the default)', () =>
      withStore(factory, async (store) => {
        const s = `${uniquePrefix()}s`;
        assert.equal((await store.append(s, evs(1), { expectedRevision: 'any' })).nextExpectedRevision, 0);
        assert.equal((await store.append(s, evs(1))).nextExpectedRevision, 1);
      }));
  });

  describe('input validation', () => {
    it('an empty append checks the expected revision, writes nothing and returns the current state', () =>
      withStore(factory, async (store) => {
        const s = `${uniquePrefix()}s`;
        assert.deepEqual(await store.append(s, []), { nextExpectedRevision: -1, position: -1 });
        assert.deepEqual(await store.append(s, [], { expectedRevision: 'no_stream' }), { nextExpectedRevision: -1, position: -1 });
        await wrongRevision(store.append(s, [], { expectedRevision: 'stream_exists' }));
        const written = await store.append(s, evs(2));
        const head = await store.headPosition();
        assert.deepEqual(await store.append(s, [], { expectedRevision: 1 }), written);
        await wrongRevision(store.append(s, [], { expectedRevision: 0 }));
        await assertUnchanged(store, head, s, 2);
      }));

    it('refuses events without id, type, data or metadata (INVALID_APPEND), writing nothing', () =>
      withStore(factory, async (store) => {
        const s = `${uniquePrefix()}s`;
        const head = await store.headPosition();
        const good = ev();
        const bad: Array<Partial<EventData>> = [
          { ...ev(), id: '' },
          { ...ev(), id: undefined },
          { ...ev(), type: '' },
          { ...ev(), data: undefined },
          { ...ev(), metadata: undefined },
        ];
        for (const b of bad) await rejectsWith(store.append(s, [good, b as EventData]), ErrorCodes.INVALID_APPEND);
        await rejectsWith(store.append(s, [null as unknown as EventData]), ErrorCodes.INVALID_APPEND);
        await assertUnchanged(store, head, s, 'missing');
      }));

    it('refuses the same event id twice in one append', () =>
      withStore(factory, async (store) => {
        const s = `${uniquePrefix()}s`;
        const e = ev();
        await rejectsWith(store.append(s, [e, ev(), { ...e }]), ErrorCodes.INVALID_APPEND);
        await rejectsWith(store.readStream(s), ErrorCodes.STREAM_NOT_FOUND);
      }));

    it('refuses an empty stream id and malformed expected revisions', () =>
      withStore(factory, async (store) => {
        await rejectsWith(store.append('', evs(1)), ErrorCodes.INVALID_APPEND);
        const s = `${uniquePrefix()}s`;
        for (const expectedRevision of [-1, 1.5, 'latest', Number.NaN]) {
          await rejectsWith(store.append(s, evs(1), { expectedRevision: expectedRevision as 'any' }), ErrorCodes.INVALID_APPEND);
        }
        await rejectsWith(store.readStream(s), ErrorCodes.STREAM_NOT_FOUND);
      }));
  });
}
