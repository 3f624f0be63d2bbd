/** Conformance: catch-up subscriptions to the global log. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCodes } from '../../../src/domain/errors.ts';
import type { RecordedEvent } from '../../../src/store/port.ts';
import { evs, rejectsWith, shape, sleep, uniquePrefix, waitUntil, withStore, type StoreFactory } from './helpers.ts';

export function subscriptionCases(factory: StoreFactory): void {
  describe('subscribeToAll', () => {
    it('delivers history after `after`, then live events, in order, each once; caughtUp follows history', () =>
      withStore(factory, async (store) => {
        const p = uniquePrefix();
        const start = await store.headPosition();
        for (let i = 0; i < 5; i++) await store.append(`${p}${i % 2}`, evs(1));
        const got: RecordedEvent[] = [];
        const sub = store.subscribeToAll({ after: start, streamPrefixes: [p] }, (e) => void got.push(e));
        await sub.caughtUp;
        assert.equal(got.length, 5, 'history delivered before caughtUp');
        for (let i = 0; i < 5; i++) await store.append(`${p}${i % 3}`, evs(2));
        await waitUntil(() => got.length >= 15, 'live events');
        await sleep(20);
        await sub.close();
        const all = await store.readAll({ after: start, streamPrefixes: [p] });
        assert.deepEqual(got.map(shape), all.map(shape));
        assert.deepEqual(got.map((e) => e.data), all.map((e) => e.data));
      }));

    it('`after` is exclusive', () =>
      withStore(factory, async (store) => {
        const p = uniquePrefix();
        await store.append(`${p}s`, evs(2));
        const r = await store.append(`${p}s`, evs(1));
        const last = evs(1);
        await store.append(`${p}s`, last);
        const got: string[] = [];
        const sub = store.subscribeToAll({ after: r.position, streamPrefixes: [p] }, (e) => void got.push(e.id));
        await sub.caughtUp;
        await sub.close();
        assert.deepEqual(got, [last[0]!.id]);
      }));

    it('filters by stream prefix, in history and live', () =>
      withStore(factory, async (store) => {
        const p = uniquePrefix();
        const start = await store.headPosition();
        await store.append(`${p}call-1`, evs(1));
        await store.append(`${p}other-1`, evs(1));
        const got: string[] = [];
        const sub = store.subscribeToAll({ after: start, streamPrefixes: [`${p}call-`] }, (e) => void got.push(e.streamId));
        await sub.caughtUp;
        await store.append(`${p}other-2`, evs(1));
        await store.append(`${p}call-2`, evs(1));
        await waitUntil(() => got.length >= 2, 'the live call event');
        await sleep(20);
        await sub.close();
        assert.deepEqual(got, [`${p}call-1`, `${p}call-2`]);
      }));

    it('awaits async handlers one at a time, in position order, while appends interleave', () =>
      withStore(factory, async (store) => {
        const p = uniquePrefix();
        const start = await store.headPosition();
        await Promise.all(Array.from({ length: 20 }, (_, i) => store.append(`${p}${i % 5}`, evs(1))));
        const got: RecordedEvent[] = [];
        let inFlight = 0;
        let maxInFlight = 0;
        const sub = store.subscribeToAll({ after: start, streamPrefixes: [p] }, async (e) => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await (e.position % 3 === 0 ? sleep(1) : new Promise((r) => setImmediate(r)));
          got.push(e);
          inFlight--;
        });
        // Waves of concurrent appends while the handler is still working through history.
        for (let wave = 0; wave < 10; wave++) {
          await Promise.all(Array.from({ length: 20 }, (_, i) => store.append(`${p}${(wave + i) % 7}`, evs(1 + (i % 2)))));
        }
        const all = await store.readAll({ after: start, streamPrefixes: [p] });
        await waitUntil(() => got.length >= all.length, 'every event');
        await sleep(20);
        await sub.close();
        assert.equal(maxInFlight, 1, 'handler calls never overlap');
        assert.deepEqual(got.map(shape), all.map(shape));
      }));

    it('close stops delivery and resolves done; closing twice is harmless', () =>
      withStore(factory, async (store) => {
        const p = uniquePrefix();
        const start = await store.headPosition();
        const got: string[] = [];
        const sub = store.subscribeToAll({ after: start, streamPrefixes: [p] }, (e) => void got.push(e.id));
        await sub.caughtUp;
        await store.append(`${p}s`, evs(1));
        await waitUntil(() => got.length === 1, 'the first event');
        await sub.close();
        await sub.close();
        await sub.done;
        await store.append(`${p}s`, evs(1));
        await sleep(50);
        assert.equal(got.length, 1);
      }));

    it('a throwing handler stops the subscription and rejects done (and caughtUp, if not yet caught up)', () =>
      withStore(factory, async (store) => {
        const p = uniquePrefix();
        const start = await store.headPosition();
        await store.append(`${p}s`, evs(3));
        const boom = new Error('handler failed');
        const got: number[] = [];
        const sub = store.subscribeToAll({ after: start, streamPrefixes: [p] }, async (e) => {
          if (got.length === 1) throw boom;
          got.push(e.revision);
        });
        await assert.rejects(sub.caughtUp, (e) => e === boom);
        await assert.rejects(sub.done, (e) => e === boom);
        await store.append(`${p}s`, evs(1));
        await sleep(20);
        assert.deepEqual(got, [0]);
        await sub.close();
      }));

    it('independent subscriptions each see everything', () =>
      withStore(factory, async (store) => {
        const p = uniquePrefix();
        const start = await store.headPosition();
        const a: string[] = [];
        const b: string[] = [];
        const subA = store.subscribeToAll({ after: start, streamPrefixes: [p] }, (e) => void a.push(e.id));
        await store.append(`${p}s`, evs(3));
        const subB = store.subscribeToAll({ after: start, streamPrefixes: [p] }, async (e) => {
          await sleep(1);
          b.push(e.id);
        });
        await store.append(`${p}t`, evs(2));
        await waitUntil(() => a.length >= 5 && b.length >= 5, 'both subscriptions');
        await Promise.all([subA.close(), subB.close()]);
        assert.deepEqual(a, b);
        assert.equal(a.length, 5);
      }));
  });

  describe('close', () => {
    it('after close every operation fails with STORE_CLOSED; close is idempotent and ends subscriptions', () =>
      withStore(factory, async (store) => {
        const s = `${uniquePrefix()}s`;
        await store.append(s, evs(1));
        const sub = store.subscribeToAll({ after: await store.headPosition(), streamPrefixes: [s] }, () => undefined);
        await sub.caughtUp;
        await store.close();
        await store.close();
        await sub.done;
        await rejectsWith(store.append(s, evs(1)), ErrorCodes.STORE_CLOSED);
        await rejectsWith(store.readStream(s), ErrorCodes.STORE_CLOSED);
        await rejectsWith(store.readAll(), ErrorCodes.STORE_CLOSED);
        await rejectsWith(store.headPosition(), ErrorCodes.STORE_CLOSED);
        await rejectsWith(
          (async () => {
            await store.subscribeToAll({}, () => undefined).done;
          })(),
          ErrorCodes.STORE_CLOSED,
        );
      }));
  });
}
