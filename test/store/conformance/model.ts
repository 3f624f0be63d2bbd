/**
 * Conformance: random append sequences (fast-check) against a reference model of the port's
 * rules. Catches any divergence in expected-revision, re-append or id-reuse decisions.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ErrorCodes, isVoxError } from '../../../src/domain/errors.ts';
import type { EventData, ExpectedRevision } from '../../../src/store/port.ts';
import { ev, uniquePrefix, withStore, type ConformanceOptions, type StoreFactory } from './helpers.ts';

type Outcome = { ok: number; lastId: string | undefined } | 'conflict' | 'invalid';

/** The port's append rules, written plainly. */
class Model {
  readonly streams = new Map<string, string[]>();
  readonly where = new Map<string, { stream: string; revision: number }>();
  readonly log: Array<{ id: string; stream: string; revision: number }> = [];

  constructor(private readonly uniqueIds: boolean) {}

  append(stream: string, ids: string[], expected: ExpectedRevision): Outcome {
    const existing = this.streams.get(stream);
    const current = existing === undefined ? undefined : existing.length - 1;
    const matches =
      expected === 'any' ||
      (expected === 'no_stream' && current === undefined) ||
      (expected === 'stream_exists' && current !== undefined) ||
      expected === current;
    if (ids.length === 0) return matches ? { ok: current ?? -1, lastId: existing?.[existing.length - 1] } : 'conflict';
    const known = ids.some((id) => (this.uniqueIds ? this.where.has(id) : existing?.includes(id)));
    if (!matches || known) {
      // Where the first id stands in THIS stream (with non-unique ids, `where` holds only its last home).
      const idx = existing ? existing.indexOf(ids[0]!) : -1;
      const first = this.uniqueIds ? this.where.get(ids[0]!) : idx >= 0 ? { stream, revision: idx } : undefined;
      if (first !== undefined && first.stream === stream) {
        const start = first.revision;
        const placeOk = expected === 'no_stream' ? start === 0 : typeof expected === 'number' ? start === expected + 1 : true;
        const there = existing!.slice(start, start + ids.length);
        if (placeOk && there.length === ids.length && there.every((id, i) => id === ids[i])) {
          return { ok: start + ids.length - 1, lastId: ids[ids.length - 1] };
        }
      }
      return matches ? 'invalid' : 'conflict';
    }
    const list = existing ?? [];
    this.streams.set(stream, list);
    for (const id of ids) {
      this.where.set(id, { stream, revision: list.length });
      this.log.push({ id, stream, revision: list.length });
      list.push(id);
    }
    return { ok: list.length - 1, lastId: ids[ids.length - 1] };
  }
}

const command = fc.record({
  stream: fc.integer({ min: 0, max: 2 }),
  size: fc.integer({ min: 0, max: 3 }),
  expected: fc.oneof(fc.constantFrom<ExpectedRevision>('any', 'no_stream', 'stream_exists'), fc.integer({ min: 0, max: 5 })),
  /** 0, 1: fresh ids; 2: an earlier batch again; 3: an earlier batch reversed; 4: an earlier batch plus a fresh event. */
  reuse: fc.integer({ min: 0, max: 4 }),
  pick: fc.nat(),
});

export function modelCases(factory: StoreFactory, options: ConformanceOptions): void {
  describe('random append sequences match the reference model', () => {
    it('outcomes, results and the final log agree with the model', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 30 }), (commands) =>
          withStore(factory, async (store) => {
            const p = uniquePrefix();
            const model = new Model(options.uniqueEventIds !== false);
            const sent: EventData[][] = [];
            const start = await store.headPosition();
            const named: Array<{ position: number; lastId: string | undefined }> = [];
            for (const c of commands) {
              const earlier = sent.length > 0 ? sent[c.pick % sent.length]! : [];
              const batch =
                c.reuse === 2 ? earlier : c.reuse === 3 ? [...earlier].reverse() : c.reuse === 4 ? [...earlier, ev()] : Array.from({ length: c.size }, () => ev());
              sent.push(batch);
              const stream = `${p}${c.stream}`;
              const expect = model.append(stream, batch.map((e) => e.id), c.expected);
              const got = await store.append(stream, batch, { expectedRevision: c.expected }).then(
                (r) => r,
                (e: unknown) => e,
              );
              const label = `${JSON.stringify({ ...c, ids: batch.length })} expected ${JSON.stringify(expect)} got ${String(got)}`;
              if (expect === 'conflict') assert.ok(isVoxError(got, ErrorCodes.WRONG_EXPECTED_REVISION), label);
              else if (expect === 'invalid') assert.ok(isVoxError(got, ErrorCodes.INVALID_APPEND), label);
              else {
                assert.ok(!(got instanceof Error), label);
                const r = got as { nextExpectedRevision: number; position: number };
                assert.equal(r.nextExpectedRevision, expect.ok, label);
                named.push({ position: r.position, lastId: expect.lastId });
              }
            }
            const all = await store.readAll({ after: start, streamPrefixes: [p] });
            assert.deepEqual(
              all.map((e) => ({ id: e.id, stream: e.streamId, revision: e.revision })),
              model.log,
            );
            const idAt = new Map(all.map((e) => [e.position, e.id]));
            for (const n of named) assert.equal(n.position === -1 ? undefined : idAt.get(n.position), n.lastId);
          }),
        ),
        { numRuns: 40 },
      );
    });
  });
}
